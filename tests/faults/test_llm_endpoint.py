"""The LLM endpoint down or hanging: a clear error frame within the timeout, the message kept, retry works.

The real OpenAI-compatible client (LLM_BACKEND=openai) talks to a loopback
HTTP server the test controls; the chat runs in-process (in-memory layer).
"""

from __future__ import annotations

import json
import time

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.core.cache import cache

from companion.chat import services as chat_services
from companion.chat.models import Message
from companion.llm.registry import set_backend
from tests.chat.conftest import open_socket, session_cookie
from tests.faults.fake_openai import FakeOpenAI
from tests.web.factories import make_persona, make_user

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

TIMEOUT_S = 2.0


@pytest.fixture
def endpoint(settings, scripted_backend):
    fake = FakeOpenAI().start()
    settings.LLM_BACKEND = "openai"
    settings.LLM_BASE_URL = fake.base_url
    settings.LLM_MODEL = "fake-model"
    settings.LLM_TIMEOUT_S = TIMEOUT_S
    settings.LLM_CONNECT_RETRIES = 1
    set_backend(None)  # built from the settings above on first use
    cache.clear()
    channel_layers.backends = {}
    yield fake
    fake.stop()
    set_backend(None)


async def _socket(conversation, user) -> WebsocketCommunicator:
    """The user's authenticated socket on ``conversation`` (tests.chat.conftest's helpers)."""
    return (await open_socket(conversation.pk, await sync_to_async(session_cookie)(user))).comm


async def _until(comm, predicate, wait_s: float) -> list[dict]:
    frames = []
    deadline = time.monotonic() + wait_s
    while True:
        frame = json.loads(await comm.receive_from(timeout=max(0.01, deadline - time.monotonic())))
        frames.append(frame)
        if predicate(frame):
            return frames


def _is_error(frame) -> bool:
    return frame["type"] == "error"


async def test_endpoint_down_then_hanging_then_back(endpoint):
    user = await sync_to_async(make_user)("alice")
    persona = await sync_to_async(make_persona)("Mira")
    conversation = await sync_to_async(chat_services.conversation_start)(owner=user, persona=persona)
    comm = await _socket(conversation, user)

    # 1. Down: nothing listens on the port.
    endpoint.stop()
    started = time.monotonic()
    await comm.send_to(text_data=json.dumps({"type": "message.send", "text": "Is the lamp lit?", "client_id": "a"}))
    frames = await _until(comm, _is_error, wait_s=TIMEOUT_S + 10)
    down_s = time.monotonic() - started
    error = frames[-1]
    assert error["code"] == "backend_unavailable", error
    assert "unreachable" in error["detail"]
    done = next(f for f in frames if f["type"] == "message.done")
    assert done["message"]["status"] == "failed"
    assert down_s < TIMEOUT_S + 5

    # 2. Hanging: the server accepts and never answers; the read timeout ends it.
    endpoint.mode = "hang"
    endpoint.start()
    set_backend(None)
    started = time.monotonic()
    await comm.send_to(text_data=json.dumps({"type": "message.send", "text": "Hello?", "client_id": "b"}))
    frames = await _until(comm, _is_error, wait_s=TIMEOUT_S + 10)
    hang_s = time.monotonic() - started
    assert frames[-1]["code"] == "backend_unavailable", frames[-1]
    assert TIMEOUT_S * 0.8 <= hang_s < TIMEOUT_S + 5, hang_s
    failed_reply = next(f for f in frames if f["type"] == "message.done")["message"]
    assert failed_reply["status"] == "failed"

    # The user's messages were kept, once each.
    stored = await sync_to_async(lambda: list(
        Message.objects.filter(conversation=conversation, role="user").values_list("content", flat=True)
    ))()
    assert stored == ["Is the lamp lit?", "Hello?"]

    # 3. Back: retrying the failed reply works.
    endpoint.stop()
    endpoint.mode = "ok"
    endpoint.start()
    set_backend(None)
    await comm.send_to(text_data=json.dumps({"type": "message.regenerate", "message_id": failed_reply["id"]}))
    frames = await _until(
        comm, lambda f: f["type"] == "message.done" and f["message"]["status"] != "streaming", wait_s=15
    )
    assert frames[-1]["message"]["status"] == "complete", frames[-1]
    assert frames[-1]["message"]["content"] == endpoint.reply
    assert not any(_is_error(f) for f in frames)
    await comm.disconnect()
