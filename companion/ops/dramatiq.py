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
    def before_process_message(self, broker: Any, message: Any) -> None:
        job = message.args[0] if message.actor_name.startswith("rendering.") and message.args else None
        # contextvars are per thread here: each worker thread sets and clears its own.
        context.job_id.set(None if job is None else str(job))
        message.options["_ops_started"] = time.monotonic()

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None, exception: Any = None) -> None:
        started = message.options.pop("_ops_started", None)
        elapsed_ms = round((time.monotonic() - started) * 1000) if started is not None else None
        outcome = "ok" if exception is None else f"error: {type(exception).__name__}"
        log.info(
            "%s %s in %s ms (%s)", message.actor_name, message.message_id, elapsed_ms, outcome,
            extra={"actor": message.actor_name, "queue": message.queue_name, "elapsed_ms": elapsed_ms,
                   "message_id": message.message_id, "retries": message.options.get("retries", 0)},
        )
        context.job_id.set(None)

    after_skip_message = after_process_message
