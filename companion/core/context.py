"""Per-request / per-task correlation ids carried in contextvars.

contextvars follow asyncio tasks and are copied into ``sync_to_async`` threads
by asgiref, so a log line written deep inside a service still carries the id
of the request, conversation or render job it belongs to.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import uuid
from collections.abc import Iterator

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
conversation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("conversation_id", default=None)
job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)

FIELDS = {"request_id": request_id, "conversation_id": conversation_id, "job_id": job_id}

# Incoming X-Request-ID values are echoed into logs and headers: accept only a
# short, boring token so nobody can inject newlines or megabytes through it.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def new_request_id(incoming: str | None = None) -> str:
    if incoming and _SAFE_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


@contextlib.contextmanager
def bound(**ids: object) -> Iterator[None]:
    """Set some of request_id / conversation_id / job_id for the duration of a block."""
    tokens = []
    for name, value in ids.items():
        var = FIELDS[name]
        tokens.append((var, var.set(None if value is None else str(value))))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current() -> dict[str, str]:
    """The ids set right now (only those that are set)."""
    return {name: value for name, var in FIELDS.items() if (value := var.get()) is not None}
