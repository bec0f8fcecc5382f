"""rendering.broker reads which render jobs still have a message, on both brokers we configure.

These pin Dramatiq's storage layout (it has no API to list a queue): an upgrade
that changes it fails here instead of recovery silently never finding lost jobs.
"""

from __future__ import annotations

import uuid

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from rendering.broker import pending_job_ids
from rendering.worker import QUEUE


def _message(job_id: str, queue_name: str = QUEUE) -> dramatiq.Message:
    return dramatiq.Message(queue_name=queue_name, actor_name="rendering.render_clip", args=(job_id,), kwargs={},
                            options={})


def test_stub_broker_waiting_and_delayed_messages_are_pending():
    broker = StubBroker()
    broker.declare_queue(QUEUE)
    broker.declare_queue("default")
    broker.enqueue(_message("waiting"))
    broker.enqueue(_message("delayed"), delay=60_000)  # a retry waiting for its backoff
    broker.enqueue(_message("other-queue", "default"))
    assert pending_job_ids(QUEUE, broker=broker) == {"waiting", "delayed"}
    broker.flush_all()
    assert pending_job_ids(QUEUE, broker=broker) == set()


@pytest.mark.redis
def test_redis_broker_waiting_delayed_and_unacked_messages_are_pending(redis_url):
    namespace = f"test-broker-{uuid.uuid4().hex[:8]}"
    broker = RedisBroker(url=redis_url, namespace=namespace)
    try:
        broker.declare_queue(QUEUE)
        for job in ("waiting", "in-progress"):
            broker.enqueue(_message(job))
        broker.enqueue(_message("delayed"), delay=60_000)
        consumer = broker.consume(QUEUE, prefetch=1, timeout=1000)
        taken = next(consumer)  # a worker holds it, not acked yet
        assert taken is not None
        assert pending_job_ids(QUEUE, broker=broker) == {"waiting", "in-progress", "delayed"}
        consumer.ack(taken)
        assert pending_job_ids(QUEUE, broker=broker) == {"waiting", "in-progress", "delayed"} - {taken.args[0]}
        consumer.close()
    finally:
        for key in broker.client.scan_iter(f"{namespace}:*"):
            broker.client.delete(key)
        broker.close()


def test_a_broker_it_cannot_read_answers_none():
    class OtherBroker(dramatiq.Broker):
        pass

    assert pending_job_ids(QUEUE, broker=OtherBroker()) is None
