"""Dramatiq middleware: correlation ids, one structured line per processed message.

Render actors take the job id as their first argument; rendering tells which
messages those are (``rendering.worker.render_job_id``), and the id is bound
as ``job_id`` while the message runs, so every log line a worker writes for
that job (the renderer's included) carries it.

This class is built with the broker (settings.DRAMATIQ_BROKER), before
Django's apps are loaded: nothing here may import models at module level.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from dramatiq.middleware import Middleware

from companion.core import context
from rendering.worker import render_job_id

log = logging.getLogger("companion.ops.tasks")


class LogContext(Middleware):
    def __init__(self) -> None:
        self._started: dict[str, float] = {}  # message id -> start (dict ops are atomic under the GIL)

    def before_process_message(self, broker: Any, message: Any) -> None:
        # contextvars are per thread here: each worker thread sets and clears its own.
        context.job_id.set(render_job_id(message))
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
