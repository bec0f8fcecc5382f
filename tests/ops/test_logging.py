"""Structured logs carry the ids needed to follow one request, conversation or render job."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import dramatiq
import pytest
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.testing import WebsocketCommunicator
from django.http import HttpResponse
from django.test import RequestFactory

from companion.core import context
from companion.ops.dramatiq import LogContext
from companion.ops.logging import logging_config
from companion.ops.middleware import RequestIdMiddleware, WebsocketLogContextMiddleware


def _capture(log_format: str) -> tuple[logging.Logger, io.StringIO]:
    """A private logger wired exactly as settings.LOGGING wires the root logger."""
    config = logging_config(log_format=log_format, level="INFO")
    stream = io.StringIO()
    handler_cfg = config["handlers"]["console"]
    handler = logging.StreamHandler(stream)
    dictcfg = logging.config.DictConfigurator(config)
    handler.setFormatter(dictcfg.configure_formatter(config["formatters"]["default"]))
    for name in handler_cfg["filters"]:
        handler.addFilter(dictcfg.configure_filter(config["filters"][name]))
    logger = logging.getLogger(f"test.ops.{log_format}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_json_lines_carry_request_conversation_and_job_ids():
    logger, stream = _capture("json")
    with context.bound(request_id="r-1", conversation_id=42, job_id="j-9"):
        logger.info("reply finished", extra={"tokens": 17})
    logger.warning("outside any request")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "reply finished"
    assert first["level"] == "INFO"
    assert first["logger"] == "test.ops.json"
    assert (first["request_id"], first["conversation_id"], first["job_id"]) == ("r-1", "42", "j-9")
    assert first["tokens"] == 17
    assert second["request_id"] is None and second["job_id"] is None


def test_text_format_shows_only_the_ids_that_are_set():
    logger, stream = _capture("text")
    with context.bound(conversation_id=7):
        logger.info("hello")
    logger.info("bye")
    first, second = stream.getvalue().splitlines()
    assert first.endswith("test.ops.text [conv=7] hello")
    assert second.endswith("test.ops.text bye")


def test_request_id_middleware_binds_and_echoes_the_id(caplog):
    seen = {}

    def view(request):
        seen["ctx"] = context.current()
        logging.getLogger("test.view").info("inside")
        return HttpResponse("ok")

    middleware = RequestIdMiddleware(view)
    factory = RequestFactory()

    response = middleware(factory.get("/", HTTP_X_REQUEST_ID="abc-123"))
    assert response["X-Request-ID"] == "abc-123"
    assert seen["ctx"] == {"request_id": "abc-123"}

    response = middleware(factory.get("/", HTTP_X_REQUEST_ID="bad\nid" + "x" * 300))
    fresh = response["X-Request-ID"]
    assert fresh != "abc-123" and len(fresh) == 32 and "\n" not in fresh
    assert context.current() == {}  # nothing leaks past the request


def test_every_http_response_has_a_request_id(client):
    first = client.get("/healthz")
    second = client.get("/healthz")
    assert first["X-Request-ID"] and second["X-Request-ID"]
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_worker_log_lines_carry_the_job_id_of_render_messages_only():
    def message(queue_name: str, *args) -> dramatiq.Message:
        return dramatiq.Message(queue_name=queue_name, actor_name="any.actor", args=args, kwargs={}, options={})

    middleware = LogContext()
    middleware.before_process_message(None, message("render", "job-9"))
    assert context.job_id.get() == "job-9"
    middleware.after_process_message(None, message("render", "job-9"))
    assert context.job_id.get() is None
    middleware.before_process_message(None, message("default", 42))  # memory work: no render job
    assert context.job_id.get() is None


# Channels closes stale database connections around each message (channels.db.aclose_old_connections);
# on the shared sync thread a previous test may have left one open, so the test may touch the database.
@pytest.mark.django_db
async def test_a_socket_binds_its_conversation_id_for_its_lifetime():
    seen = []

    class Recording(AsyncWebsocketConsumer):
        async def connect(self):
            seen.append(context.conversation_id.get())
            await self.accept()

        async def receive(self, text_data=None, bytes_data=None):
            seen.append(context.conversation_id.get())
            await self.send(text_data="ok")

    comm = WebsocketCommunicator(WebsocketLogContextMiddleware(Recording.as_asgi()), "/ws/conversations/42/")
    assert (await comm.connect())[0]
    await comm.send_to(text_data="hi")
    assert await comm.receive_from() == "ok"
    await comm.disconnect()
    assert seen == ["42", "42"]
