"""A real Dramatiq worker on the configured (stub) broker, for tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dramatiq


@contextmanager
def running_worker(*, worker_timeout: int = 20) -> Iterator[dramatiq.Worker]:
    """Start one worker thread as the embedded default runs it; stop and detach it afterwards.

    ``Worker.stop()`` leaves the worker's middleware on the broker, and that
    middleware adds a consumer to the stopped worker for every queue declared
    later: it would take messages that no thread ever processes, stalling a
    later test's worker. Detaching it keeps each test's worker the only consumer.
    """
    import rendering.actors  # noqa: F401  (registers the render actors on the broker)

    broker = dramatiq.get_broker()
    _empty(broker)
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=worker_timeout)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        broker.middleware[:] = [m for m in broker.middleware if getattr(m, "worker", None) is not worker]
        _empty(broker)


def _empty(broker: dramatiq.Broker) -> None:
    """No messages and no pending acks left on the stub broker's queues.

    A worker stopped with a prefetched message puts it back without acking the
    original delivery, so the queue's unfinished-task count never returns to
    zero and anything that waits for the queue to drain would wait forever.
    """
    broker.flush_all()
    for queue in getattr(broker, "queues", {}).values():
        with queue.all_tasks_done:
            queue.unfinished_tasks = 0
            queue.all_tasks_done.notify_all()
