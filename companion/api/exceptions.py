"""The REST API's one exception handler: every refusal is ``{code, detail}`` with its status.

``ApplicationError`` (chat, evolve, memory, the rate limiter, the model
backends) carries its code and status; DRF's own exceptions (authentication,
permissions, parse errors, throttles) get a code too, so a client reads one
shape everywhere.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from companion.core.errors import ApplicationError


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        response = Response({"code": exc.code, "detail": exc.detail}, status=exc.http_status)
        if exc.retry_after_s:
            response["Retry-After"] = str(exc.retry_after_s)
        return response
    response = exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.APIException) and isinstance(response.data, dict):
        code = "rate_limited" if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS else exc.default_code
        response.data.setdefault("code", code)
    return response
