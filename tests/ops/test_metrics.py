"""/metrics exposes request metrics (django-prometheus) and the app's own, fed by signals."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.testing import WebsocketCommunicator
from prometheus_client import REGISTRY

from companion.chat.signals import exchange_completed
from companion.ops.metrics import WebsocketMetricsMiddleware, on_exchange_completed, on_job_updated
from rendering.models import RenderJob
from rendering.signals import job_updated


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_endpoint_exports_request_and_app_metrics(client, settings):
    settings.METRICS_TOKEN = "scrape-token"
    client.get("/healthz")
    body = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token").content.decode()
    assert "django_http_requests_total_by_view_transport_method_total" in body
    for name in (
        "companion_websocket_connections",
        "companion_tokens_streamed_total",
        "companion_render_duration_seconds_bucket",
    ):
        assert name in body, name


def test_render_job_updates_are_counted_and_timed():
    now = dt.datetime.now(dt.UTC)
    job = SimpleNamespace(
        seconds_running=4.0, seconds_queued=1.5, queued_at=now, started_at=now, finished_at=now, id="j"
    )
    before_done = sample("companion_render_jobs_total", event="done")
    before_failed = sample("companion_render_jobs_total", event="failed")
    before_count = sample("companion_render_duration_seconds_count")
    before_sum = sample("companion_render_duration_seconds_sum")

    # Called as the signal calls it (other apps' receivers would choke on the stand-in job).
    on_job_updated(RenderJob, job=job, event="progress")
    on_job_updated(RenderJob, job=job, event="done")
    on_job_updated(RenderJob, job=SimpleNamespace(seconds_running=None, seconds_queued=None), event="failed")

    assert sample("companion_render_jobs_total", event="done") == before_done + 1
    assert sample("companion_render_jobs_total", event="failed") == before_failed + 1
    assert sample("companion_render_jobs_total", event="progress") == 0.0
    assert sample("companion_render_duration_seconds_count") == before_count + 1
    assert sample("companion_render_duration_seconds_sum") == pytest.approx(before_sum + 4.0)


def test_completed_exchanges_count_replies_and_tokens():
    before_tokens = sample("companion_tokens_streamed_total")
    before_replies = sample("companion_replies_total", status="complete")
    reply = SimpleNamespace(status="complete", completion_tokens=12, content="x" * 40)
    on_exchange_completed(None, conversation=None, user_message=None, reply_message=reply)
    reply = SimpleNamespace(status="interrupted", completion_tokens=None, content="y" * 40)  # counted by the backend
    on_exchange_completed(None, conversation=None, user_message=None, reply_message=reply)
    assert sample("companion_replies_total", status="complete") == before_replies + 1
    assert sample("companion_tokens_streamed_total") == before_tokens + 12 + 10  # scripted: 4 chars a token


def test_receivers_are_connected_to_the_signals():
    assert on_job_updated in [entry[1]() for entry in job_updated.receivers]
    assert on_exchange_completed in [entry[1]() for entry in exchange_completed.receivers]


class Echo(AsyncWebsocketConsumer):
    async def connect(self):
        await self.accept()


class Refuse(AsyncWebsocketConsumer):
    async def connect(self):
        await self.close()


@pytest.mark.django_db
async def test_websocket_gauge_follows_open_connections():
    base = sample("companion_websocket_connections")
    first = WebsocketCommunicator(WebsocketMetricsMiddleware(Echo.as_asgi()), "/ws/conversations/3/")
    second = WebsocketCommunicator(WebsocketMetricsMiddleware(Echo.as_asgi()), "/ws/conversations/4/")
    assert (await first.connect())[0] and (await second.connect())[0]
    assert sample("companion_websocket_connections") == base + 2
    await first.disconnect()
    assert sample("companion_websocket_connections") == base + 1
    refused = WebsocketCommunicator(WebsocketMetricsMiddleware(Refuse.as_asgi()), "/ws/conversations/5/")
    assert not (await refused.connect())[0]
    assert sample("companion_websocket_connections") == base + 1  # a refused socket is never counted
    await second.disconnect()
    assert sample("companion_websocket_connections") == base


def test_the_real_websocket_app_is_wrapped():
    from companion.asgi import application

    assert isinstance(application.application_mapping["websocket"].app, WebsocketMetricsMiddleware)


def test_metrics_are_for_the_scraper_token_only(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403  # no token configured: off
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION="Bearer ").status_code == 403
    settings.METRICS_TOKEN = "s3cret"
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION="Bearer nope").status_code == 403
    allowed = client.get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION="Bearer s3cret")
    assert allowed.status_code == 200 and b"companion_websocket_connections" in allowed.content
    # An internal-looking address is no longer a key (issue 11: a spoofed one was let in).
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
