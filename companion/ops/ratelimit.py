"""Per-user render rate limit over the shared cache (holds across Daphne processes with Redis).

Renders are the most expensive thing a user can ask for (GPU minutes), so
they get their own budget, ``RENDER_RATE_LIMIT`` (default "6/m"), counted
with the same fixed-window scheme as the chat limit (companion.chat.ratelimit).
Only new jobs count: an idempotent repeat of a request returns the existing
job and is checked before the counter by the caller.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

from companion.chat.ratelimit import parse_rate


def render_rate_exceeded(*, user_id: int) -> bool:
    """Count one render request for ``user_id``; True when it is over RENDER_RATE_LIMIT."""
    limit, window = parse_rate(settings.RENDER_RATE_LIMIT)
    key = f"ratelimit:render:{user_id}:{int(time.time() // window)}"
    cache.add(key, 0, timeout=window + 5)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window + 5)
        used = 1
    return used > limit
