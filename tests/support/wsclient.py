"""A small websocket chat client for the topology, fault and acceptance tests and the soak bench.

Speaks the public protocol (companion/chat/PROTOCOL.md) to a real Daphne over a real socket,
authenticated by a Django session cookie, with the Origin a browser would send.
It records every frame it receives, so a test can assert on the whole stream.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

Frame = dict[str, Any]

# Seeds a topology database with users, one persona and their conversations, and
# returns session cookies for them (run through Topology.django()).
SEED_SNIPPET = """
from django.contrib.auth import get_user_model, BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from companion.chat.services import conversation_start
from personas.demo import ensure_demo_persona

persona = ensure_demo_persona()
User = get_user_model()
out = []
for i in range({count}):
    user, _ = User.objects.get_or_create(username=f"{prefix}{{i}}")
    user.set_unusable_password()
    user.save()
    conv = conversation_start(owner=user, persona=persona)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    out.append({{"user_id": user.pk, "conversation_id": conv.pk, "sessionid": session.session_key}})
print(json.dumps(out))
"""


def seed_snippet(*, count: int, prefix: str = "user") -> str:
    return SEED_SNIPPET.format(count=count, prefix=prefix)


class ChatSocket:
    """``async with ChatSocket(base_url, conversation_id, sessionid) as ws: ...``"""

    def __init__(self, base_url: str, conversation_id: int, sessionid: str, *, origin: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url.replace("http", "ws", 1) + f"/ws/conversations/{conversation_id}/"
        self.headers = {"Cookie": f"sessionid={sessionid}", "Origin": origin or self.base_url}
        self.frames: list[Frame] = []
        self.conn: ClientConnection | None = None
        self._queue: asyncio.Queue[Frame | None] = asyncio.Queue()
        self._reader: asyncio.Task | None = None
        self.closed_code: int | None = None

    async def open(self, timeout_s: float = 10.0) -> ChatSocket:
        self.conn = await connect(self.url, additional_headers=self.headers, open_timeout=timeout_s, max_size=2**24)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aenter__(self) -> ChatSocket:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    async def _read(self) -> None:
        try:
            async for raw in self.conn:
                frame = json.loads(raw)
                frame["_t"] = time.monotonic()
                self.frames.append(frame)
                await self._queue.put(frame)
        except Exception:  # connection lost: the waiter sees None
            pass
        finally:
            self.closed_code = self.conn.close_code
            await self._queue.put(None)

    async def send(self, frame: Frame) -> None:
        await self.conn.send(json.dumps(frame))

    async def send_raw(self, text: str) -> None:
        await self.conn.send(text)

    async def wait_for(self, predicate: Callable[[Frame], bool], timeout_s: float = 10.0) -> Frame:
        """The next frame (received from now on) matching ``predicate``; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no matching frame within {timeout_s:g} s; last frames: {self.frames[-5:]}")
            frame = await asyncio.wait_for(self._queue.get(), left)
            if frame is None:
                raise ConnectionError(f"socket closed (code {self.closed_code}) while waiting")
            if predicate(frame):
                return frame

    async def send_message(self, text: str, client_id: str, timeout_s: float = 30.0) -> tuple[Frame, Frame]:
        """Send a message; returns (the user's message.created, the reply's message.done)."""
        await self.send({"type": "message.send", "text": text, "client_id": client_id})
        created = await self.wait_for(
            lambda f: f["type"] == "error" or (f["type"] == "message.created" and f.get("client_id") == client_id),
            timeout_s,
        )
        if created["type"] == "error":
            raise RuntimeError(f"refused: {created}")
        reply = await self.wait_for(
            lambda f: f["type"] == "message.created" and f["message"]["role"] == "persona", timeout_s
        )
        done = await self.wait_for(
            lambda f: f["type"] == "message.done" and f["message"]["id"] == reply["message"]["id"], timeout_s
        )
        return created, done

    async def history(self, after_seq: int = 0, timeout_s: float = 10.0) -> Frame:
        await self.send({"type": "history.sync", "after_seq": after_seq})
        return await self.wait_for(lambda f: f["type"] == "history", timeout_s)
