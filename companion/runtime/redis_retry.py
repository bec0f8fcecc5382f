"""Redis clients that survive a Redis restart: a command on a dropped pooled connection reconnects and retries.

redis-py's pools default to no retries, so after a Redis restart (or a
failover) the first command on every pooled connection fails with "Connection
closed by server": a websocket connect, a group_send or an enqueue each fail
once per stale connection. With a short exponential backoff (≈1.5 s in all)
they reconnect instead (tests/faults/test_redis_restart.py). A retried write
may, rarely, apply twice; every consumer of these clients is idempotent
(README "Delivery guarantees").
"""

from __future__ import annotations

from redis.backoff import ExponentialBackoff

RETRIES = 4


def sync_retry():
    from redis.retry import Retry

    return Retry(ExponentialBackoff(cap=1.0, base=0.05), RETRIES)


def async_retry():
    from redis.asyncio.retry import Retry

    return Retry(ExponentialBackoff(cap=1.0, base=0.05), RETRIES)


def sync_pool(url: str):
    """A connection pool for Dramatiq's RedisBroker (it builds its own pool from a bare URL otherwise)."""
    import redis

    return redis.ConnectionPool.from_url(url, retry=sync_retry())
