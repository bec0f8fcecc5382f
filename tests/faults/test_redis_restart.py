"""Restart Redis (no persistence: every queue and group is lost) during a streamed reply and a queued render.

The reply ends complete, interrupted or failed with its text kept (never left
streaming, never silently lost); the queued render's message is gone with
Redis, and the sweeper re-enqueues it so it completes; the processes recover
without a restart.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.faults.conftest import seed
from tests.support.wsclient import ChatSocket

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(400)]

STATE = """
from companion.chat.models import Message
from rendering.models import RenderJob
rows = Message.objects.filter(conversation_id={conversation_id}).order_by("seq")
print(json.dumps({{
    "messages": [{{"id": m.id, "role": m.role, "kind": m.kind, "status": m.status, "content": m.content,
                   "client_id": m.client_id}} for m in rows],
    "jobs": {{str(j.pk): j.status for j in RenderJob.objects.all()}},
}}))
"""


def _wait_ready(topo, timeout_s: float = 60) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if all(topo.readyz(name)[0] == 200 for name in ("web-a", "web-b")):
            return time.monotonic() - started
        time.sleep(0.5)
    raise AssertionError({name: topo.readyz(name) for name in ("web-a", "web-b")})


def test_redis_restart_during_a_reply_and_a_queued_render(make_topology):
    topo = make_topology(SCRIPTED_TOKEN_DELAY_S="0.1", SCRIPTED_REPLY_WORDS="60")
    users = seed(topo, count=2)
    web_a, web_b = topo.web_urls

    # --- 1. a streamed reply -------------------------------------------------------------
    async def reply_during_restart():
        ws = await ChatSocket(web_a, users[0]["conversation_id"], users[0]["sessionid"]).open()
        await ws.send({"type": "message.send", "text": "Tell me about the storm.", "client_id": "r1"})
        for _ in range(5):
            await ws.wait_for(lambda f: f["type"] == "message.delta", 10)
        topo.redis.stop()
        status, body = topo.readyz("web-a")
        await asyncio.sleep(1.0)
        topo.redis.start()
        await ws.close()
        return status, body

    down_status, down_body = asyncio.run(reply_during_restart())
    assert down_status == 503  # readiness noticed
    assert not down_body["checks"]["channel_layer"]["ok"] or not down_body["checks"]["broker"]["ok"]
    recovered_s = _wait_ready(topo)

    deadline = time.monotonic() + 30
    while True:  # the reply reaches a final state (the streaming task, or the sweeper, ends it)
        state = topo.django(STATE.format(conversation_id=users[0]["conversation_id"]))
        replies = [m for m in state["messages"] if m["role"] == "persona" and m["kind"] == "text"]
        if (replies and replies[-1]["status"] != "streaming") or time.monotonic() > deadline:
            break
        time.sleep(1)
    user_rows = [m for m in state["messages"] if m["role"] == "user"]
    assert [m["client_id"] for m in user_rows] == ["r1"]  # the user's message: stored once
    reply = replies[-1]
    assert reply["status"] in ("complete", "interrupted", "failed"), reply
    # The text generated so far is kept (5+ deltas had been streamed when Redis went away).
    full = "You said: Tell me about the storm."
    assert len(reply["content"]) >= len("You said: Tell me")
    assert full.startswith(reply["content"]) or reply["content"].startswith(full), reply

    # The processes recovered without a restart: a fresh socket chats across Daphnes.
    async def chat_after():
        async with ChatSocket(web_b, users[0]["conversation_id"], users[0]["sessionid"]) as b, ChatSocket(
            web_a, users[0]["conversation_id"], users[0]["sessionid"]
        ) as a:
            _, done = await b.send_message("Is it over?", "r2")
            seen_on_a = await a.wait_for(lambda f: f["type"] == "message.done", 30)
            return done, seen_on_a

    done, seen_on_a = asyncio.run(chat_after())
    assert done["message"]["status"] == "complete" and seen_on_a["message"]["id"] == done["message"]["id"]

    # --- 2. a queued render --------------------------------------------------------------
    topo.kill("worker-render", 15)  # SIGTERM: nobody consumes the render queue for now
    topo.processes["worker-render"].popen.wait(30)

    async def queue_a_render():
        async with ChatSocket(web_a, users[1]["conversation_id"], users[1]["sessionid"]) as ws:
            _, done = await ws.send_message("We walk along the beach at sunset.", "q1")
            await ws.send({"type": "render.request", "message_id": done["message"]["id"], "client_id": "q1"})
            queued = await ws.wait_for(lambda f: f["type"] in ("render.queued", "error"), 30)
            assert queued["type"] == "render.queued", queued
            return queued["job_id"]

    job_id = asyncio.run(queue_a_render())
    topo.redis.restart(down_s=0.5)  # the queued message is gone with it
    _wait_ready(topo)
    topo.start_process("worker-render")
    topo.wait_ready(["worker-render"], 90)

    async def outcome():
        async with ChatSocket(web_b, users[1]["conversation_id"], users[1]["sessionid"]) as ws:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                history = await ws.history(after_seq=0)
                clips = [m for m in history["messages"] if m["kind"] == "clip"]
                if clips:
                    return clips
                await asyncio.sleep(1)
            return []

    clips = asyncio.run(outcome())
    state = topo.django(STATE.format(conversation_id=users[1]["conversation_id"]))
    assert state["jobs"][job_id] == "succeeded", state["jobs"]
    assert len(clips) == 1  # the clip is in the conversation, once
    assert recovered_s < 30
