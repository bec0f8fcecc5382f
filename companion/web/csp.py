"""Content-Security-Policy on every response, from the ``CONTENT_SECURITY_POLICY`` setting.

The policy (settings) allows scripts, styles, fonts and connections from this
origin only and no inline code, so an injected ``<script>`` or ``onclick=``
never runs even if some text escaped escaping. ``connect-src`` gains the
socket's own origin (``ws://host`` or ``wss://host``) because older browsers
do not count websockets as ``'self'``.

A view that cannot do without something else (a third-party page such as
Swagger UI's inline ``<style>``) widens the policy for its own responses only,
with ``@csp_update({"style-src": ["'unsafe-inline'"]})``. ``CSP_REPORT_ONLY``
sends the header as ``Content-Security-Policy-Report-Only``, to try a stricter
policy without breaking pages.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings

HEADER = "Content-Security-Policy"
REPORT_ONLY_HEADER = "Content-Security-Policy-Report-Only"


def policy_header(request: Any, extra: dict[str, list[str]] | None = None) -> str:
    policy = {name: list(values) for name, values in settings.CONTENT_SECURITY_POLICY.items()}
    for name, values in (extra or {}).items():
        policy.setdefault(name, list(policy.get("default-src", [])))
        policy[name] += [v for v in values if v not in policy[name]]
    if "connect-src" in policy:
        try:
            host = request.get_host()
        except Exception:  # DisallowedHost: the response is an error page anyway
            host = ""
        if host:
            socket_origin = f"{'wss' if request.is_secure() else 'ws'}://{host}"
            if socket_origin not in policy["connect-src"]:
                policy["connect-src"].append(socket_origin)
    return "; ".join(f"{name} {' '.join(values)}".strip() for name, values in policy.items())


def _apply(request: Any, response: Any) -> Any:
    header = REPORT_ONLY_HEADER if settings.CSP_REPORT_ONLY else HEADER
    if settings.CONTENT_SECURITY_POLICY and header not in response:
        response[header] = policy_header(request, getattr(response, "csp_update", None))
    return response


class ContentSecurityPolicyMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if self.is_async:
            return self._acall(request)
        return _apply(request, self.get_response(request))

    async def _acall(self, request: Any) -> Any:
        return _apply(request, await self.get_response(request))


def csp_update(extra: dict[str, list[str]]) -> Callable:
    """Widen the policy for one view's responses (e.g. ``{"style-src": ["'unsafe-inline'"]}``)."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            response = view(*args, **kwargs)
            response.csp_update = extra
            return response

        return wrapped

    return decorator
