"""The production shape: events produced in one process reach sockets held by another.

Two Daphne processes and two Dramatiq workers (default, render) share
PostgreSQL and Redis; a socket on Daphne A must see what Daphne B or a worker
produced, because Redis (channel layer) carries every conversation group.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request

import pytest

from tests.support.wsclient import ChatSocket, seed_snippet

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def seeds(topology):
    return topology.django(seed_snippet(count=2, prefix="topo"))


def test_every_process_is_ready_on_postgres_and_redis(topology):
    for name in ("web-a", "web-b"):
        status, body = topology.readyz(name)
        assert status == 200, body
        details = {check: body["checks"][check]["detail"] for check in body["checks"]}
        assert details == {
            "database": "postgresql",
            "channel_layer": "RedisChannelLayer",
            "broker": "RedisBroker",
            "llm": "scripted-paced",
        }


def test_a_reply_streamed_by_daphne_a_reaches_a_socket_on_daphne_b(topology, seeds):
    seed = seeds[0]
    web_a, web_b = topology.web_urls

    async def scenario():
        async with ChatSocket(web_a, seed["conversation_id"], seed["sessionid"]) as a, ChatSocket(
            web_b, seed["conversation_id"], seed["sessionid"]
        ) as b:
            created, done = await a.send_message("Is the lighthouse lit tonight?", "topo-1")
            seen_done = await b.wait_for(lambda f: f["type"] == "message.done", 15)
            return created, done, seen_done, b.frames

    created, done, seen_done, frames_b = asyncio.run(scenario())
    assert done["message"]["status"] == "complete"
    assert done["message"]["content"] == "You said: Is the lighthouse lit tonight?"
    assert seen_done["message"] == {k: v for k, v in done["message"].items()}
    kinds = [f["type"] for f in frames_b]
    assert kinds[0] == "message.created" and kinds[-1] == "message.done"
    user_created = next(f for f in frames_b if f["type"] == "message.created" and f["message"]["role"] == "user")
    assert user_created["message"]["id"] == created["message"]["id"]
    deltas = "".join(f["text"] for f in frames_b if f["type"] == "message.delta")
    assert deltas == done["message"]["content"]  # B got the whole stream, in order


def test_a_render_requested_on_a_is_done_on_b_by_the_render_worker(topology, seeds):
    seed = seeds[1]
    web_a, web_b = topology.web_urls

    async def scenario():
        async with ChatSocket(web_a, seed["conversation_id"], seed["sessionid"]) as a, ChatSocket(
            web_b, seed["conversation_id"], seed["sessionid"]
        ) as b:
            _, done = await a.send_message("We walk along the beach at sunset.", "topo-2")
            await a.send(
                {"type": "render.request", "message_id": done["message"]["id"], "client_id": "evolve-1"}
            )
            queued = await a.wait_for(lambda f: f["type"] in ("render.queued", "error"), 20)
            assert queued["type"] == "render.queued", queued
            finished = await b.wait_for(lambda f: f["type"] in ("render.done", "render.failed"), 120)
            return queued, finished, b.frames

    queued, finished, frames_b = asyncio.run(scenario())
    assert finished["type"] == "render.done", finished
    job_id = finished["job"]["id"]
    assert job_id == queued["job"]["id"]
    assert any(f["type"] == "render.progress" for f in frames_b)

    # The render worker process did the work: its JSON log lines carry the job id
    # (the per-message line is written just after the actor returns).
    def worker_logged_the_job() -> bool:
        lines = topology.log_tail("worker-render", 200_000).splitlines()
        return any(json.loads(line).get("job_id") == job_id for line in lines if line.startswith("{"))

    deadline = time.monotonic() + 10
    while not worker_logged_the_job() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert worker_logged_the_job()

    # The clip is served to its owner by the other Daphne, typed and not sniffable.
    request = urllib.request.Request(web_b + finished["clip_url"], headers={"Cookie": f"sessionid={seed['sessionid']}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "video/mp4"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.read(12)[4:8] == b"ftyp"  # an MP4 container

    # Dramatiq's Prometheus exposition server of the render worker counted the message.
    port = topology.processes["worker-render"].env["dramatiq_prom_port"]
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
    assert 'dramatiq_messages_total{actor_name="rendering.render_clip",queue_name="render"}' in metrics
    assert "companion_render_jobs_total" in metrics  # the app's render metrics, same worker


def test_the_chat_rate_limit_holds_across_daphne_processes(topology):
    """CHAT_RATE_LIMIT (20/m) is one budget per user whichever Daphne the frames reach.

    The budget is a fixed one-minute window. A run whose sends straddle a window boundary
    proves nothing, so instead of sleeping until a fresh window the test notices that and
    runs again for a new user: the second run starts just after the boundary.
    """
    web_a, web_b = topology.web_urls

    async def scenario(seed):
        async with ChatSocket(web_a, seed["conversation_id"], seed["sessionid"]) as a, ChatSocket(
            web_b, seed["conversation_id"], seed["sessionid"]
        ) as b:
            outcomes = []
            for i in range(21):
                ws = (a, b)[i % 2]
                await ws.send({"type": "message.send", "text": f"ping {i}", "client_id": f"rl-{i}"})
                frame = await ws.wait_for(lambda f, c=f"rl-{i}": f["type"] == "error" or (
                    f["type"] == "message.created" and f.get("client_id") == c), 15)
                outcomes.append(frame["code"] if frame["type"] == "error" else "accepted")
                if frame["type"] != "error":  # let the reply finish: a send while it streams is refused as busy
                    await ws.wait_for(lambda f: f["type"] == "message.done", 15)
            return outcomes

    for attempt in range(2):
        seed = topology.django(seed_snippet(count=1, prefix=f"ratelimit{attempt}-"))[0]
        window = int(time.time() // 60)
        outcomes = asyncio.run(scenario(seed))
        if int(time.time() // 60) == window:
            break
    else:
        pytest.fail("two runs in a row crossed a minute boundary")
    # Twenty sends are accepted, alternating between the two processes; the 21st is over the budget.
    assert outcomes[:20] == ["accepted"] * 20, outcomes
    assert outcomes[20] == "rate_limited", outcomes
