"""The chat flood limit (CHAT_RATE_LIMIT per user), on the project's one limiter: companion.core.ratelimit.

Kept as the consumer's import point; the counting, windows and refunds live there.
"""

from __future__ import annotations

from companion.core.ratelimit import arate_hit, arate_refund, parse_rate

__all__ = ["chat_rate_exceeded", "chat_rate_refund", "parse_rate"]


async def chat_rate_exceeded(user_id: int, *, scope: str = "chat") -> bool:
    """Count one message for ``user_id``; True when it is over CHAT_RATE_LIMIT."""
    return await arate_hit(scope, user_id)


async def chat_rate_refund(user_id: int, *, scope: str = "chat") -> None:
    """Give the hit back: the message was refused (``busy``) and stored nothing."""
    await arate_refund(scope, user_id)
