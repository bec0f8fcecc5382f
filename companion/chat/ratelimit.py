"""Per-user flood limit for websocket frames that cost a model call.

django-ratelimit's ``is_ratelimited``/``get_usage`` take an HttpRequest, which
a websocket frame does not have (faking one would drag in its key/group
machinery for no gain), so this is the same fixed-window scheme it uses: one
counter per user per window in the shared Django cache, ``add`` then
``incr``, so the limit holds across Daphne processes when the cache is Redis.
"""

from __future__ import annotations

import re
import time

from django.conf import settings
from django.core.cache import cache

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\w*\s*$")


def parse_rate(rate: str) -> tuple[int, int]:
    """"20/m" → (20, 60); "5/10s" → (5, 10)."""
    match = _RATE.match(rate)
    if not match:
        raise ValueError(f"bad rate {rate!r}; use e.g. '20/m'")
    count, multiplier, unit = match.groups()
    return int(count), int(multiplier or 1) * _UNITS[unit]


async def chat_rate_exceeded(user_id: int, *, scope: str = "chat") -> bool:
    """Count one action for ``user_id``; True when it is over CHAT_RATE_LIMIT."""
    limit, window = parse_rate(settings.CHAT_RATE_LIMIT)
    bucket = int(time.time() // window)
    key = f"ratelimit:{scope}:{user_id}:{bucket}"
    await cache.aadd(key, 0, timeout=window + 5)
    try:
        used = await cache.aincr(key)
    except ValueError:  # expired between add and incr
        await cache.aset(key, 1, timeout=window + 5)
        used = 1
    return used > limit
