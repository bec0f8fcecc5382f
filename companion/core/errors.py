"""One error family for everything a user is told "no" about.

A refusal has a machine ``code`` and a human ``detail``; the websocket sends
them in an ``error`` frame and the REST API as ``{code, detail}`` with the HTTP
status below (``companion.api.exceptions``), so each app raises its own
subclass and no view or consumer maps errors by hand.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import ValidationError

# The HTTP status for a code; anything else is a 400.
HTTP_STATUS: dict[str, int] = {
    "not_found": 404,
    "busy": 409,
    "refused": 422,
    "rate_limited": 429,
    "backend_unavailable": 503,
    "unavailable": 503,
}


class ApplicationError(Exception):
    """A refused operation: ``code`` and ``detail`` go to the client; ``retry_after_s`` to Retry-After."""

    code: ClassVar[str] = "invalid"

    def __init__(self, code: str | None = None, detail: str = "", *, retry_after_s: int | None = None) -> None:
        self.code = code or type(self).code
        self.detail = detail or self.code
        self.retry_after_s = retry_after_s
        super().__init__(self.detail)

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)


def validation_detail(exc: ValidationError, *, root: str = "frame") -> str:
    """pydantic's errors as one ``detail`` line, ``field.path: message; ...``: the one place they are
    formatted (websocket frames, and the contract objects inside REST bodies)."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or root}: {e['msg']}" for e in exc.errors())[:500]
