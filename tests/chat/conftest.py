"""Fixtures for the chat tests: users, a persona, conversations, and a logged-in websocket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client

from companion.asgi import application
from companion.chat.services import conversation_start
from companion.memory.embeddings import get_model
from personas.models import Persona


@pytest.fixture(autouse=True)
def _fresh_cache_and_layer():
    """Rate-limit counters and in-memory groups must not leak between tests."""
    cache.clear()
    channel_layers.backends = {}
    yield
    cache.clear()
    channel_layers.backends = {}


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("alice", password="pw-alice-123", first_name="Alice")


@pytest.fixture
def other_user(db):
    return get_user_model().objects.create_user("bob", password="pw-bob-123", first_name="Bob")


@pytest.fixture
def persona(db):
    return Persona.objects.create(
        name="Mira",
        description="{{char}} is a lighthouse keeper who talks to {{user}} at night.",
        personality="dry humour, patient",
        scenario="A stormy evening at the lighthouse.",
        greeting="Evening, {{user}}. I'm {{char}}. Tea?",
        example_dialogue="<START>\n{{user}}: Hi\n{{char}}: Mind the stairs.",
        post_history_instructions="Answer as {{char}} in two sentences at most.",
        temperature=0.55,
        llm_adapter="mira-lora",
    )


@pytest.fixture
def conversation(user, persona):
    return conversation_start(owner=user, persona=persona)


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def communicator(conversation_id: int, sessionid: str | None = None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if sessionid:
        headers.append((b"cookie", f"sessionid={sessionid}".encode()))
    return WebsocketCommunicator(application, f"/ws/conversations/{conversation_id}/", headers=headers)


@pytest.fixture
def login(db):
    """``await login(user)`` -> a session id for that user (logged in through Django's test client)."""
    return sync_to_async(session_cookie)


class Socket:
    """A connected test client speaking JSON frames."""

    def __init__(self, comm: WebsocketCommunicator) -> None:
        self.comm = comm

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.comm.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))

    async def recv(self, wait_s: float = 5) -> dict[str, Any]:
        return json.loads(await self.comm.receive_from(timeout=wait_s))

    async def recv_until(self, frame_type: str, wait_s: float = 10, **match: Any) -> list[dict[str, Any]]:
        """Frames up to and including the first of ``frame_type`` whose fields match."""
        frames = []
        async with asyncio.timeout(wait_s):
            while True:
                frame = await self.recv(wait_s=wait_s)
                frames.append(frame)
                if frame["type"] == frame_type and all(_get(frame, k) == v for k, v in match.items()):
                    return frames

    async def nothing_more(self, wait_s: float = 0.2) -> bool:
        return await self.comm.receive_nothing(timeout=wait_s)

    async def close(self) -> None:
        await self.comm.disconnect()


def _get(frame: dict[str, Any], dotted: str) -> Any:
    value: Any = frame
    for part in dotted.split("__"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


async def open_socket(conversation_id: int, sessionid: str | None) -> Socket:
    # The memory embedder loaded before the first socket, as ``manage.py serve`` does at start: its
    # first load takes seconds, which would otherwise land inside whichever test replies first.
    await asyncio.to_thread(get_model)
    comm = communicator(conversation_id, sessionid)
    connected, _ = await comm.connect(timeout=5)
    assert connected
    return Socket(comm)
