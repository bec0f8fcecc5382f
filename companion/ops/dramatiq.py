"""Dramatiq middleware: correlation ids and one structured line per processed message.

Render actors take the job id as their first argument; it is bound as
``job_id`` while the message runs, so every log line a worker writes for that
job (the renderer's included) carries it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from dramatiq.middleware import Middleware

from companion.ops import context

log = logging.getLogger("companion.ops.tasks")


class LogContext(Middleware):
    def __init__(self) -> None:
        self._started: dict[str, float] = {}  # message id -> start (dict ops are atomic under the GIL)

    def before_process_message(self, broker: Any, message: Any) -> None:
        job = message.args[0] if message.actor_name.startswith("rendering.") and message.args else None
        # contextvars are per thread here: each worker thread sets and clears its own.
        context.job_id.set(None if job is None else str(job))
        self._started[message.message_id] = time.monotonic()  # not in message.options: those are re-enqueued

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None, exception: Any = None) -> None:
        started = self._started.pop(message.message_id, None)
        elapsed_ms = round((time.monotonic() - started) * 1000) if started is not None else None
        outcome = "ok" if exception is None else f"error: {type(exception).__name__}"
        log.info(
            "%s %s in %s ms (%s)", message.actor_name, message.message_id, elapsed_ms, outcome,
            extra={"actor": message.actor_name, "queue": message.queue_name, "elapsed_ms": elapsed_ms,
                   "message_id": message.message_id, "retries": message.options.get("retries", 0)},
        )
        context.job_id.set(None)

    after_skip_message = after_process_message


class Maintenance(Middleware):
    """Render-job heartbeats and the periodic sweeper, in each worker process.

    A daemon thread writes a heartbeat for every render job this process is
    working on (every ``SWEEP_HEARTBEAT_S``) and, every ``SWEEP_INTERVAL_S``,
    runs the sweeper if no other process did in that interval.  The thread
    dies with the process: a SIGKILLed worker stops heartbeating, which is
    exactly what the sweeper looks for.
    """

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._jobs: dict[str, int] = {}  # job id -> messages in progress for it
        self._thread: threading.Thread | None = None

    def after_process_boot(self, broker: Any) -> None:
        import threading

        from django.conf import settings

        if not settings.SWEEPER_IN_WORKERS or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="ops-maintenance", daemon=True)
        self._thread.start()

    def before_process_message(self, broker: Any, message: Any) -> None:
        if message.actor_name.startswith("rendering.") and message.args:
            job = str(message.args[0])
            with self._lock:
                self._jobs[job] = self._jobs.get(job, 0) + 1
            self._beat([job])  # at once: the sweeper must not see a fresh claim as stale

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None, exception: Any = None) -> None:
        if message.actor_name.startswith("rendering.") and message.args:
            job = str(message.args[0])
            with self._lock:
                left = self._jobs.get(job, 1) - 1
                if left > 0:
                    self._jobs[job] = left
                else:
                    self._jobs.pop(job, None)

    after_skip_message = after_process_message

    def _beat(self, jobs: list[str]) -> None:
        from companion.ops.sweeper import heartbeat_write

        try:
            heartbeat_write(job_ids=jobs)
        except Exception:  # Redis away: the next beat retries; the sweeper waits for SWEEP_RENDER_STALE_S
            log.warning("render heartbeat failed", exc_info=True)

    def _loop(self) -> None:
        from django.conf import settings
        from django.db import close_old_connections

        from companion.ops.sweeper import sweep_if_due

        next_sweep = time.monotonic() + settings.SWEEP_INTERVAL_S
        while True:
            time.sleep(settings.SWEEP_HEARTBEAT_S)
            with self._lock:
                jobs = list(self._jobs)
            self._beat(jobs)
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + settings.SWEEP_INTERVAL_S
                try:
                    report = sweep_if_due()
                    if report is not None and report.changed:
                        log.warning("sweeper: %s", report)
                except Exception:
                    log.exception("sweeper pass failed")
                finally:
                    close_old_connections()
