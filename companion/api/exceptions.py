"""The REST API's one exception handler: every refusal is ``{code, detail}`` with its status.

``ApplicationError`` (chat, evolve, memory, the rate limiter, the model
backends) carries its code and status; DRF's own exceptions (authentication,
permissions, parse errors, throttles) get a code too, so a client reads one
shape everywhere. A serializer's validation errors keep their per-field lists
(``{"persona": ["No such persona."]}``) and gain ``code: invalid`` and a one-line
``detail`` (``field: message; ...``) like every other refusal.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
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
    # Django's own Http404/PermissionDenied (get_object_or_404, a queryset's .get) become DRF's,
    # as DRF's handler does internally, so they get their code below like every other refusal.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        fields = response.data if isinstance(response.data, dict) else {}
        response.data = {**fields, "code": "invalid", "detail": "; ".join(_problems(response.data))[:500]}
        return response
    if response is not None and isinstance(exc, exceptions.APIException) and isinstance(response.data, dict):
        code = "rate_limited" if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS else exc.default_code
        response.data.setdefault("code", code)
    return response


def _problems(errors: Any, path: tuple[str, ...] = ()) -> list[str]:
    """DRF's nested error lists/dicts as ``field.path: message`` lines (non-field errors unprefixed)."""
    if isinstance(errors, dict):
        return [line for key, value in errors.items()
                for line in _problems(value, path if key == "non_field_errors" else (*path, str(key)))]
    if isinstance(errors, list):
        return [line for index, value in enumerate(errors)
                for line in _problems(value, (*path, str(index)) if isinstance(value, dict | list) else path)]
    return [f"{'.'.join(path)}: {errors}" if path else str(errors)]
