"""Websocket Origin check by scheme, host and port (Channels' AllowedHostsOriginValidator looks at the host only).

A browser page on ``http://evil.example:8080`` or on the plain-http twin of an
https site must not open a socket with the user's cookie. A handshake is let
through only when its ``Origin`` is

- the socket's own origin: ``http(s)://<Host header>``, the scheme taken from
  the socket's (``ws`` → ``http``, ``wss`` → ``https``; behind a TLS proxy the
  scheme comes from a trusted proxy, see companion.web.proxies), with the Host
  in ``ALLOWED_HOSTS``; or
- one of ``CSRF_TRUSTED_ORIGINS`` (the same list Django's CSRF check trusts;
  ``https://*.example.com`` covers subdomains).

Default ports are normalised (``https://a.example`` equals ``https://a.example:443``).
A handshake without an Origin (not a browser) is refused, as Channels did.
Refusals are closed before accept: the client sees HTTP 403.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _normalise(origin: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    return scheme, parts.hostname.lower().rstrip("."), port or _DEFAULT_PORTS[scheme]


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _trusted(origin: tuple[str, str, int]) -> bool:
    scheme, host, port = origin
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        if "*" in entry:  # "https://*.example.com": that scheme, any subdomain
            trusted = _normalise(entry.replace("*.", "wildcard.", 1))
            if trusted is None:
                continue
            t_scheme, t_host, t_port = trusted
            suffix = t_host[len("wildcard") :]
            if scheme == t_scheme and port == t_port and (host.endswith(suffix) or host == suffix[1:]):
                return True
        elif _normalise(entry) == origin:
            return True
    return False


def origin_allowed(scope: dict[str, Any]) -> bool:
    raw = _header(scope, b"origin")
    origin = _normalise(raw) if raw else None
    if origin is None:
        return False
    if _trusted(origin):
        return True
    host = _header(scope, b"host") or ""
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    scheme = "https" if scope.get("scheme") == "wss" else "http"
    own = _normalise(f"{scheme}://{host}")
    return own is not None and own == origin


class SameOriginValidator:
    """ASGI middleware for websocket routes: refuse cross-origin handshakes (see module docstring)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "websocket" and not origin_allowed(scope):
            await WebsocketDenier()(scope, receive, send)
            return
        await self.app(scope, receive, send)
