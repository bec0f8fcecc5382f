"""One error family for everything a user is told "no" about.

A refusal has a machine ``code`` and a human ``detail``; the websocket sends
them in an ``error`` frame and the REST API as ``{code, detail}`` with the HTTP
status below (``companion.api.exceptions``), so each app raises its own
subclass and no view or consumer maps errors by hand.
"""

from __future__ import annotations

from typing import ClassVar

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
