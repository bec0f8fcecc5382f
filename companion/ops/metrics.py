"""Application metrics (prometheus_client), fed by signals and an ASGI wrapper.

HTTP request and database metrics come from django-prometheus; queue metrics
in worker processes come from Dramatiq's own Prometheus middleware (see
settings: ``DRAMATIQ_PROMETHEUS``).  This module only adds what neither knows:
websocket connections, streamed replies and tokens, render job outcomes (the
frame-size refusals are counted by their own middleware, companion.chat.frame_limit).
The other apps never call these objects: ``connect_receivers`` subscribes to
their signals, and ``WebsocketMetricsMiddleware`` wraps the websocket app.

Every process exports its own numbers (a Daphne at ``/metrics``, a worker on
its Dramatiq exposition port); Prometheus sums across targets.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from django.conf import settings
from django.http import HttpResponseForbidden
from django_prometheus.exports import ExportToDjangoView
from prometheus_client import Counter, Gauge, Histogram

from companion.chat.signals import exchange_completed
from companion.core.asgi import WebsocketMiddleware
from companion.llm.registry import get_backend
from rendering.signals import job_updated

log = logging.getLogger(__name__)

WEBSOCKET_CONNECTIONS = Gauge(
    "companion_websocket_connections", "Websocket connections open in this process.", multiprocess_mode="livesum"
)
WEBSOCKET_CONNECTS = Counter("companion_websocket_connects", "Websocket connections accepted by the ASGI server.")
REPLIES = Counter("companion_replies", "Persona replies finished, by final status.", ["status"])
TOKENS_STREAMED = Counter("companion_tokens_streamed", "Completion tokens streamed to users.")
RENDER_JOBS = Counter("companion_render_jobs", "Render job state changes seen by this process, by event.", ["event"])
RENDER_DURATION = Histogram(
    "companion_render_duration_seconds",
    "Wall time of a render from start to success.",
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600),
)
RENDER_QUEUE_WAIT = Histogram(
    "companion_render_queue_wait_seconds",
    "Time a render job waited in the queue before a worker started it.",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)


def on_job_updated(sender: Any, *, job: Any, event: str, **kwargs: Any) -> None:
    if event == "progress":
        return  # several per second per job: counted nowhere, they would drown the outcomes
    RENDER_JOBS.labels(event=event).inc()
    if event == "done" and job.seconds_running is not None:
        RENDER_DURATION.observe(job.seconds_running)
    if event in ("done", "failed") and job.seconds_queued is not None:
        RENDER_QUEUE_WAIT.observe(max(0.0, job.seconds_queued))


def on_exchange_completed(sender: Any, *, reply_message: Any, **kwargs: Any) -> None:
    REPLIES.labels(status=getattr(reply_message, "status", "unknown")).inc()
    tokens = getattr(reply_message, "completion_tokens", None)
    if tokens is None:
        tokens = get_backend().count_tokens(reply_message.content or "") if reply_message.content else 0
    TOKENS_STREAMED.inc(tokens)


def connect_receivers() -> None:
    """Subscribe to the signals of chat and rendering (called once from AppConfig.ready)."""
    job_updated.connect(on_job_updated, dispatch_uid="ops.metrics.job_updated")
    exchange_completed.connect(on_exchange_completed, dispatch_uid="ops.metrics.exchange_completed")


class WebsocketMetricsMiddleware(WebsocketMiddleware):
    """ASGI wrapper counting websocket connections that were accepted and are still open."""

    async def websocket(self, scope: dict, receive: Any, send: Any) -> None:
        accepted = False

        async def counting_send(message: dict) -> None:
            nonlocal accepted
            if message.get("type") == "websocket.accept" and not accepted:
                accepted = True
                WEBSOCKET_CONNECTIONS.inc()
                WEBSOCKET_CONNECTS.inc()
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            if accepted:
                WEBSOCKET_CONNECTIONS.dec()


def scraper_authorised(request: Any) -> bool:
    """The scraper's bearer token, compared in constant time. No token configured: nobody."""
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(header.encode(), f"Bearer {token}".encode())


def metrics_view(request: Any) -> Any:
    """django-prometheus' exporter, for the scraper only: ``Authorization: Bearer $METRICS_TOKEN``.

    Metrics name views, queues and volumes: not for the public internet. Not by client address:
    behind a proxy (or with a forged X-Forwarded-For) any caller can look internal.
    """
    if not scraper_authorised(request):
        return HttpResponseForbidden("metrics are for the Prometheus scraper (Authorization: Bearer $METRICS_TOKEN)")
    return ExportToDjangoView(request)
