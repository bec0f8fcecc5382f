"""/healthz and /readyz: what an orchestrator and a load balancer see."""

from __future__ import annotations

import asyncio

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker

from companion.llm.base import BackendUnavailable
from companion.llm.registry import set_backend
from companion.llm.scripted import ScriptedBackend
from companion.ops import health

pytestmark = pytest.mark.django_db(transaction=True)


class DownBackend(ScriptedBackend):
    async def healthcheck(self) -> None:
        raise BackendUnavailable("connection refused by http://127.0.0.1:9/v1")


class HangingBackend(ScriptedBackend):
    async def healthcheck(self) -> None:
        await asyncio.sleep(30)


def test_healthz_answers_without_touching_dependencies(client, django_assert_num_queries):
    set_backend(DownBackend())  # liveness must not depend on the model server
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_reports_every_dependency_ok(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "channel_layer", "broker", "llm"}
    for name, check in body["checks"].items():
        assert check["ok"] is True, name
        assert check["latency_ms"] >= 0
    assert body["checks"]["database"]["detail"] == "sqlite"
    assert body["checks"]["channel_layer"]["detail"] == "InMemoryChannelLayer"
    assert body["checks"]["llm"]["detail"] == "scripted"


def test_readyz_is_503_with_detail_when_the_llm_is_down(client, settings):
    settings.METRICS_TOKEN = "ops-token"
    set_backend(DownBackend())
    response = client.get("/readyz", HTTP_AUTHORIZATION="Bearer ops-token")  # the operator's view
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["llm"]["ok"] is False
    assert "connection refused" in body["checks"]["llm"]["detail"]
    assert body["checks"]["database"]["ok"] is True  # the others still report
    # The public probe says which check failed, not the internal error text (issue 11).
    public = client.get("/readyz").json()["checks"]["llm"]
    assert public["ok"] is False and "connection refused" not in public["detail"]


def test_readyz_times_out_a_hanging_dependency(client, settings):
    settings.READYZ_TIMEOUT_S = 0.3
    set_backend(HangingBackend())
    response = client.get("/readyz")
    assert response.status_code == 503
    llm = response.json()["checks"]["llm"]
    assert llm["detail"] == "timed out after 0.3 s"
    assert llm["latency_ms"] < 3000


def test_broker_check_pings_redis(monkeypatch):
    dead = RedisBroker(url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    monkeypatch.setattr(dramatiq, "get_broker", lambda: dead)
    result = asyncio.run(health._run(health.check_broker, 2.0))
    assert result.ok is False
    assert "ConnectionError" in result.detail or "Connection" in result.detail


@pytest.mark.redis
def test_broker_and_channel_layer_checks_on_real_redis(monkeypatch, settings, redis_url):
    live = RedisBroker(url=redis_url)
    monkeypatch.setattr(dramatiq, "get_broker", lambda: live)
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [redis_url]}}
    }
    results = asyncio.run(health.readiness(timeout_s=3.0))
    assert results["broker"].ok and results["broker"].detail == "RedisBroker"
    assert results["channel_layer"].ok and results["channel_layer"].detail == "RedisChannelLayer"
