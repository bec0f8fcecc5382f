"""Dramatiq middleware stamping the render job id on every log line a worker writes for that job."""

from __future__ import annotations

from typing import Any

from dramatiq.middleware import Middleware

from companion.ops import context


class LogContext(Middleware):
    """Binds ``job_id`` (render actors: their first argument) while a message is processed."""

    def before_process_message(self, broker: Any, message: Any) -> None:
        job = message.args[0] if message.actor_name.startswith("rendering.") and message.args else None
        if job is not None:
            # contextvars are per thread here: each worker thread sets and resets its own.
            context.job_id.set(str(job))

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None, exception: Any = None) -> None:
        context.job_id.set(None)

    after_skip_message = after_process_message
