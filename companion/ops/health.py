"""Liveness (/healthz) and readiness (/readyz) probes.

/healthz answers from the process alone (no I/O), so an orchestrator restarts
only processes that are truly wedged.  /readyz checks every dependency a
request may need, concurrently and each under a short timeout, and answers 503
with per-check detail when any of them fails, so a load balancer stops
sending traffic to a process that cannot serve it.

/readyz is public (load balancers probe it without credentials), so a failed
check's error text (hosts, ports, driver messages) goes to the log and to
callers with the scraper's ``Authorization: Bearer $METRICS_TOKEN`` only;
everyone else reads "failed" and the check's name.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from companion.llm.registry import get_backend
from companion.ops.metrics import scraper_authorised

log = logging.getLogger(__name__)


@dataclass
class CheckResult:
    ok: bool
    detail: str
    latency_ms: float


def _check_database() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _discard_dead_connection() -> None:
    """Drop a connection the server closed (restart, pg_terminate_backend) instead of
    failing every probe until CONN_MAX_AGE; never one inside a transaction (tests)."""
    from django.db import close_old_connections, connection

    if not connection.in_atomic_block:
        close_old_connections()


def _database_sync() -> str:
    _discard_dead_connection()
    try:
        return _check_database()
    except Exception:
        _discard_dead_connection()
        raise


async def check_database() -> str:
    return await sync_to_async(_database_sync)()


async def check_channel_layer() -> str:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    name = await layer.new_channel("readyz.")
    nonce = time.monotonic_ns()
    await layer.send(name, {"type": "readyz.probe", "nonce": nonce})
    echoed = await layer.receive(name)
    if echoed.get("nonce") != nonce:
        raise RuntimeError("channel layer returned a different message")
    return type(layer).__name__


def _broker_sync() -> str:
    import dramatiq

    broker = dramatiq.get_broker()
    client = getattr(broker, "client", None)  # RedisBroker keeps a redis.Redis here
    if client is not None:
        client.ping()
    return type(broker).__name__


async def check_broker() -> str:
    return await sync_to_async(_broker_sync, thread_sensitive=False)()


async def check_llm() -> str:

    backend = await sync_to_async(get_backend, thread_sensitive=False)()
    await backend.healthcheck()
    return backend.name


CHECKS: dict[str, Callable[[], Awaitable[str]]] = {
    "database": check_database,
    "channel_layer": check_channel_layer,
    "broker": check_broker,
    "llm": check_llm,
}


async def _run(check: Callable[[], Awaitable[str]], timeout_s: float) -> CheckResult:
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(check(), timeout=timeout_s)
        ok = True
    except TimeoutError:
        ok, detail = False, f"timed out after {timeout_s:g} s"
    except Exception as exc:
        ok, detail = False, f"{type(exc).__name__}: {str(exc)[:300]}"
        log.warning("readiness check %s failed: %s", getattr(check, "__name__", check), detail)
    return CheckResult(ok=ok, detail=str(detail), latency_ms=round((time.perf_counter() - started) * 1000, 1))


async def readiness(*, timeout_s: float | None = None) -> dict[str, CheckResult]:
    """Run every check concurrently; each gets ``timeout_s`` (settings.READYZ_TIMEOUT_S by default)."""
    timeout_s = settings.READYZ_TIMEOUT_S if timeout_s is None else timeout_s
    results = await asyncio.gather(*(_run(check, timeout_s) for check in CHECKS.values()))
    return dict(zip(CHECKS, results, strict=True))


@never_cache
@require_GET
async def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
async def readyz(request: HttpRequest) -> JsonResponse:
    results = await readiness()
    ok = all(r.ok for r in results.values())

    if not scraper_authorised(request):  # internal error text is for operators, not the internet
        for result in results.values():
            if not result.ok and not result.detail.startswith("timed out"):
                result.detail = "failed (details in the server log)"
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "checks": {name: asdict(r) for name, r in results.items()}},
        status=200 if ok else 503,
    )
