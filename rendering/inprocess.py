"""The embedded default: one Dramatiq worker thread inside the web process."""

from __future__ import annotations

import logging
import threading

import dramatiq

log = logging.getLogger(__name__)

_lock = threading.Lock()
_worker: dramatiq.Worker | None = None


def start_inprocess_worker() -> dramatiq.Worker:
    """Start the worker once per process (idempotent); it consumes every queue of the configured broker."""
    global _worker
    with _lock:
        if _worker is None:
            import rendering.actors  # noqa: F401  (registers the actors on the broker)

            broker = dramatiq.get_broker()
            broker.emit_after("process_boot")
            _worker = dramatiq.Worker(broker, worker_threads=1, queues=None)
            _worker.start()
            log.info("in-process task worker started on %s", type(broker).__name__)
        return _worker
