"""Forwarded headers, believed only from the proxies we run (``TRUSTED_PROXIES``).

Daphne runs *without* ``--proxy-headers``: that flag believes any client's
``X-Forwarded-For``, so an attacker could pick a fresh address per request
(login lockouts never triggered, per-address limits never counted, /metrics
saw an "internal" caller). Instead this ASGI middleware, outermost for HTTP
and websockets, looks at the TCP peer:

- peer in ``TRUSTED_PROXIES`` (addresses or networks, e.g. ``10.0.0.0/8``):
  the client is the right-most ``X-Forwarded-For`` entry that is not itself a
  trusted proxy (every proxy appends the address it saw; entries to the left
  of an untrusted hop are the client's own claims and are ignored), and the
  scheme comes from the nearest proxy's ``X-Forwarded-Proto``;
- any other peer: the peer *is* the client, and every forwarding header
  (``X-Forwarded-*``, ``X-Real-IP``, ``Forwarded``) is removed from the
  request, so nothing further in (Django, axes, ipware) can be fooled by it.

Django then reads ``REMOTE_ADDR`` (= ``scope["client"]``) and the scheme
(``scope["scheme"]``; ``SECURE_PROXY_SSL_HEADER`` stays unset) as usual.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from django.conf import settings

_FORWARDING_HEADERS = frozenset(
    {b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-port", b"x-real-ip", b"forwarded"}
)
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[_Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def trusted_networks() -> tuple[_Network, ...]:
    return _networks(tuple(settings.TRUSTED_PROXIES))


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip().strip('"')
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:5123"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return address.ipv4_mapped or address if isinstance(address, ipaddress.IPv6Address) else address


def is_trusted(address: Any, networks: Iterable[_Network] | None = None) -> bool:
    if address is None:
        return False
    networks = trusted_networks() if networks is None else networks
    return any(address.version == net.version and address in net for net in networks)


def forwarded_client(peer: str, forwarded_for: list[str], networks: Iterable[_Network] | None = None) -> str:
    """The client's address for a request from ``peer`` carrying these X-Forwarded-For values."""
    networks = tuple(trusted_networks() if networks is None else networks)
    client = _address(peer)
    if not is_trusted(client, networks):
        return peer
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):  # nearest proxy's view first
        address = _address(hop)
        if address is None:  # garbage: nothing to its left can be believed
            break
        client = address
        if not is_trusted(address, networks):
            break
    return str(client)


def _header_values(headers: list[tuple[bytes, bytes]], name: bytes) -> list[str]:
    return [value.decode("latin-1") for key, value in headers if key.lower() == name]


def proxied_scope(scope: dict[str, Any]) -> dict[str, Any]:
    """A copy of an http/websocket scope with the real client, scheme and only believable headers."""
    headers = list(scope.get("headers") or [])
    client = scope.get("client")
    peer = client[0] if client else ""
    trusted = is_trusted(_address(peer)) if peer else False
    scope = dict(scope)
    if not trusted:
        scope["headers"] = [(k, v) for k, v in headers if k.lower() not in _FORWARDING_HEADERS]
        return scope
    forwarded_for = _header_values(headers, b"x-forwarded-for")
    if forwarded_for:
        scope["client"] = (forwarded_client(peer, forwarded_for), client[1] if client else 0)
    proto = [p.strip().lower() for v in _header_values(headers, b"x-forwarded-proto") for p in v.split(",")]
    if proto and proto[-1] in ("http", "https"):
        secure = proto[-1] == "https"
        if scope.get("type") == "websocket":
            scope["scheme"] = "wss" if secure else "ws"
        else:
            scope["scheme"] = "https" if secure else "http"
    return scope


class TrustedProxyMiddleware:
    """ASGI middleware: see the module docstring. Outermost, so every layer sees the resolved client."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") in ("http", "websocket"):
            scope = proxied_scope(scope)
        await self.app(scope, receive, send)


def client_ip(request: Any) -> str | None:
    """The client address Django sees (already resolved by TrustedProxyMiddleware); AXES_CLIENT_IP_CALLABLE."""
    return request.META.get("REMOTE_ADDR") or None
