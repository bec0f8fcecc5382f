"""Websocket authorization: who may open a conversation socket, and what its frames may reach.

A socket is bound to one conversation of its user; every frame that names a
message or a job is checked against that conversation, so ids from another
user's conversation behave as if they did not exist.
"""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.test import Client

from companion.asgi import application
from companion.chat import services as chat_services
from companion.chat.models import Message
from rendering.models import JobStatus, RenderJob
from tests.web.factories import make_clip_job, make_persona, make_user, say

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh():
    cache.clear()
    channel_layers.backends = {}
    yield
    channel_layers.backends = {}


@pytest.fixture
def world(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    alice, bob, staff = make_user("alice"), make_user("bob"), make_user("staff")
    staff.is_staff = True
    staff.save()
    persona = make_persona("Mira")
    conv = chat_services.conversation_start(owner=alice, persona=persona)
    bob_conv = chat_services.conversation_start(owner=bob, persona=persona)
    bob_user_msg, bob_reply = say(bob_conv, "Bob's private words.")
    bob_job = make_clip_job(bob_reply, persona=persona, requested_by=bob, idempotency_key="bob-1")
    return {"alice": alice, "bob": bob, "staff": staff, "conv": conv, "bob_conv": bob_conv,
            "bob_user_msg": bob_user_msg, "bob_reply": bob_reply, "bob_job": bob_job}


def _session(user) -> str | None:
    if user is None:
        return None
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def _socket(conversation_id: int, user, *, origin: bytes = b"http://testserver") -> WebsocketCommunicator:
    sessionid = await sync_to_async(_session)(user)
    headers = [(b"origin", origin), (b"host", b"testserver")]
    if sessionid:
        headers.append((b"cookie", f"sessionid={sessionid}".encode()))
    return WebsocketCommunicator(application, f"/ws/conversations/{conversation_id}/", headers=headers)


async def _close_code(comm: WebsocketCommunicator) -> int | None:
    connected, _ = await comm.connect()
    if not connected:
        return None
    output = await comm.receive_output(timeout=3)
    assert output["type"] == "websocket.close"
    return output.get("code")


@pytest.mark.parametrize(("role", "code"), [("anonymous", 4401), ("bob", 4403), ("staff", 4403)])
async def test_only_the_owner_can_open_a_conversation_socket(world, role, code):
    user = None if role == "anonymous" else world[role]
    assert await _close_code(await _socket(world["conv"].pk, user)) == code


async def test_a_foreign_origin_is_refused_before_the_consumer(world):
    comm = await _socket(world["conv"].pk, world["alice"], origin=b"https://evil.example")
    connected, _ = await comm.connect()
    assert connected is False
    comm = await _socket(world["conv"].pk, world["alice"])
    connected, _ = await comm.connect()
    assert connected is True
    await comm.disconnect()


async def _frames(comm, frame: dict, *, until: str, wait_s: float = 5.0) -> list[dict]:
    await comm.send_to(text_data=json.dumps(frame))
    got = []
    while True:
        data = json.loads(await comm.receive_from(timeout=wait_s))
        got.append(data)
        if data["type"] in (until, "error"):
            return got


def _bob_state(world):
    rows = Message.objects.filter(conversation=world["bob_conv"]).order_by("pk")
    return [(m.pk, m.content, m.is_active, m.deleted, m.status) for m in rows], RenderJob.objects.get(
        pk=world["bob_job"].pk
    ).status


async def test_frames_cannot_reach_another_users_messages_or_jobs(world):
    comm = await _socket(world["conv"].pk, world["alice"])
    assert (await comm.connect())[0]
    before = await sync_to_async(_bob_state)(world)
    bob_reply, bob_user = world["bob_reply"].pk, world["bob_user_msg"].pk
    attempts = [
        {"type": "message.edit", "message_id": bob_user, "text": "hijacked"},
        {"type": "message.delete", "message_id": bob_user},
        {"type": "message.regenerate", "message_id": bob_reply},
        {"type": "message.select", "message_id": bob_reply},
        {"type": "render.request", "message_id": bob_reply, "client_id": "x"},
        {"type": "render.preview", "message_id": bob_reply},
        {"type": "render.cancel", "job_id": str(world["bob_job"].pk)},
    ]
    for frame in attempts:
        frames = await _frames(comm, frame, until="error")
        assert frames[-1]["type"] == "error", frame
        assert frames[-1]["code"] == "not_found", (frame, frames[-1])
        assert "Bob's private words" not in json.dumps(frames)
    history = await _frames(comm, {"type": "history.sync", "after_seq": 0}, until="history")
    assert "Bob's private words" not in json.dumps(history)
    assert await sync_to_async(_bob_state)(world) == before
    assert world["bob_job"].status == JobStatus.QUEUED
    await comm.disconnect()
