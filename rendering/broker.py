"""Which render jobs still have a message in the broker: the one place that reads broker storage.

Dramatiq has no API to list the messages a queue holds, and recovery needs
exactly that: a ``queued`` job with no message anywhere (Redis restarted
without persistence, the embedded process restarted) will never run unless it
is enqueued again. So this adapter reads the two brokers we configure:

- ``RedisBroker`` keeps every message body in the hash ``<namespace>:<queue>.msgs``
  until it is acked (waiting, being processed, or a delayed retry on the
  ``.DQ`` queue), so the hash values are exactly the pending messages;
- ``StubBroker`` (embedded default, tests) holds its messages in ``queues``
  (``queue.Queue`` per queue name, the delay queue included).

Any other broker answers None: "cannot tell", and recovery then never
concludes that a message was lost. The layout is Dramatiq 2.x's;
tests/rendering/test_broker.py pins it for both brokers, so an upgrade that
changes it fails a test instead of silently never finding lost jobs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name


def pending_job_ids(queue_name: str, *, broker: dramatiq.Broker | None = None) -> set[str] | None:
    """First argument (the job id) of every message the broker still holds for ``queue_name``.

    Includes messages being processed (not acked yet) and delayed retries; None when
    the broker cannot be inspected.
    """
    broker = broker or dramatiq.get_broker()
    names = (queue_name, dq_name(queue_name))
    if isinstance(broker, RedisBroker):
        raw: Iterable[Any] = (
            body for name in names for body in broker.client.hvals(f"{broker.namespace}:{name}.msgs")
        )
    elif isinstance(broker, StubBroker):
        raw = (message for name in names if name in broker.queues for message in list(broker.queues[name].queue))
    else:
        return None
    return {job for item in raw if (job := _first_arg(item)) is not None}


def _first_arg(item: Any) -> str | None:
    try:
        data = dramatiq.get_encoder().decode(item) if isinstance(item, bytes | str) else item
        args = data["args"] if isinstance(data, dict) else list(data.args)
    except Exception:  # a body we cannot read names no job
        return None
    return str(args[0]) if args else None
