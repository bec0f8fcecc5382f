"""The one rate limiter: fixed windows counted in the shared Django cache (Redis in production).

Every expensive action has a *scope* whose budget is a setting ("20/m", "5/10s", "3/h"):

=============  ==============================  ================================  ==========
scope          setting                         counted per                       refused as
=============  ==============================  ================================  ==========
chat           CHAT_RATE_LIMIT                 user (message.send, regenerate)   ws error
render         RENDER_RATE_LIMIT               user (render.request, POST jobs)  ws / 429
preview        RENDER_PREVIEW_RATE_LIMIT       user (render.preview, POST preview)  ws / 429
reel           REEL_RATE_LIMIT                 user (POST reels)                 429
signup         SIGNUP_RATE_LIMIT               client address (POST /signup/)    429
card_import    CARD_IMPORT_RATE_LIMIT          user (admin card import)          429
=============  ==============================  ================================  ==========

A hit is ``cache.add`` then ``cache.incr`` on ``ratelimit:<scope>:<key>:<window>``, so the
count holds across Daphne processes when the cache is Redis; django-ratelimit's own
fixed window works the same way, but it needs an HttpRequest, which a websocket frame does
not have. Refusals raise ``RateLimited`` (``code = "rate_limited"``): the websocket answers
``error {code: "rate_limited"}``, HTTP answers 429 with ``Retry-After``.

A request that is refused for another reason after it was counted (``busy``: a reply is
still streaming, or the database stayed locked) gives its hit back with ``rate_refund`` so
it does not use up the user's budget.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from companion.core.errors import ApplicationError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\w*\s*$")

# scope -> the setting holding its rate
SCOPES = {
    "chat": "CHAT_RATE_LIMIT",
    "render": "RENDER_RATE_LIMIT",
    "preview": "RENDER_PREVIEW_RATE_LIMIT",
    "reel": "REEL_RATE_LIMIT",
    "signup": "SIGNUP_RATE_LIMIT",
    "card_import": "CARD_IMPORT_RATE_LIMIT",
}
DETAILS = {
    "chat": "Too many messages; wait a moment.",
    "render": "Too many render requests; wait a minute.",
    "preview": "Too many scene previews; wait a minute.",
    "reel": "Too many reels; wait a minute.",
    "signup": "Too many sign-ups from your network; try again later.",
    "card_import": "Too many card imports; wait a minute.",
}


class RateLimited(ApplicationError):
    """Over a scope's budget. ``code`` and ``detail`` go to the client; ``retry_after_s`` to Retry-After."""

    code = "rate_limited"

    def __init__(self, scope: str, retry_after_s: int) -> None:
        self.scope = scope
        super().__init__("rate_limited", DETAILS.get(scope, "Too many requests; wait a moment."),
                         retry_after_s=max(1, retry_after_s))


def parse_rate(rate: str) -> tuple[int, int]:
    """"20/m" → (20, 60); "5/10s" → (5, 10)."""
    match = _RATE.match(rate)
    if not match:
        raise ValueError(f"bad rate {rate!r}; use e.g. '20/m'")
    count, multiplier, unit = match.groups()
    return int(count), int(multiplier or 1) * _UNITS[unit]


@dataclass(frozen=True)
class _Window:
    key: str
    limit: int
    timeout: int
    retry_after_s: int


def _window(scope: str, who: object) -> _Window:
    limit, window = parse_rate(getattr(settings, SCOPES[scope]))
    now = time.time()
    bucket = int(now // window)
    return _Window(
        key=f"ratelimit:{scope}:{who}:{bucket}",
        limit=limit,
        timeout=window + 5,
        retry_after_s=int((bucket + 1) * window - now) + 1,
    )


def rate_hit(scope: str, who: object) -> bool:
    """Count one action of ``who`` (a user id, an address) in ``scope``; True when it is over the budget."""
    w = _window(scope, who)
    cache.add(w.key, 0, timeout=w.timeout)
    try:
        used = cache.incr(w.key)
    except ValueError:  # expired between add and incr
        cache.set(w.key, 1, timeout=w.timeout)
        used = 1
    return used > w.limit


async def arate_hit(scope: str, who: object) -> bool:
    w = _window(scope, who)
    await cache.aadd(w.key, 0, timeout=w.timeout)
    try:
        used = await cache.aincr(w.key)
    except ValueError:
        await cache.aset(w.key, 1, timeout=w.timeout)
        used = 1
    return used > w.limit


def rate_check(scope: str, who: object) -> None:
    """Count one action; raise RateLimited when it is over the budget."""
    if rate_hit(scope, who):
        raise RateLimited(scope, _window(scope, who).retry_after_s)


def rate_refund(scope: str, who: object) -> None:
    """Give back one hit (the counted action was refused for another reason and did nothing)."""
    try:
        cache.decr(_window(scope, who).key)
    except ValueError:  # the window rolled over meanwhile: nothing to give back
        pass


async def arate_refund(scope: str, who: object) -> None:
    try:
        await cache.adecr(_window(scope, who).key)
    except ValueError:
        pass


def render_rate_exceeded(*, user_id: int) -> bool:
    """Count one new render job for ``user_id``; True when over RENDER_RATE_LIMIT (evolve_plan calls this)."""
    return rate_hit("render", user_id)


def card_import_gate(user: object) -> tuple[str, int] | None:
    """personas.limits import gate: one card import of ``user`` counted; a refusal when over the budget."""
    try:
        rate_check("card_import", getattr(user, "pk", None))
    except RateLimited as exc:
        return exc.detail, exc.retry_after_s
    return None
