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
    broker.flush_all()
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=worker_timeout)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        broker.middleware[:] = [m for m in broker.middleware if getattr(m, "worker", None) is not worker]
        broker.flush_all()
