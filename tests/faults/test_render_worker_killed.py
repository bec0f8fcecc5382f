"""SIGKILL a render worker mid-render: the job is retried by a worker, or failed visibly; never `running` forever."""

from __future__ import annotations

import asyncio
import signal

import pytest

from tests.faults.conftest import seed
from tests.support.wsclient import ChatSocket

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(420)]

JOB_STATE = """
from rendering.models import RenderJob
job = RenderJob.objects.get(pk="{job_id}")
print(json.dumps({{"status": job.status, "attempts": job.attempts, "detail": job.error_detail}}))
"""


def _progress_of(job_id: str, min_step: int = 3, attempt: int | None = None):
    return lambda f: (
        f["type"] == "render.progress" and f["job_id"] == job_id and f["step"] >= min_step
        and f.get("status") == "running" and (attempt is None or f.get("attempt") == attempt)
    )


def _outcome_of(job_id: str):
    return lambda f: f["type"] in ("render.done", "render.failed") and f["job_id"] == job_id


async def _request_render(ws: ChatSocket, text: str, client_id: str) -> str:
    _, done = await ws.send_message(text, f"msg-{client_id}")
    await ws.send({"type": "render.request", "message_id": done["message"]["id"], "client_id": client_id,
                   "direction": {"duration_s": 8}})
    queued = await ws.wait_for(lambda f: f["type"] in ("render.queued", "error"), 30)
    assert queued["type"] == "render.queued", queued
    return queued["job_id"]


def test_killed_render_worker_job_is_retried_then_failed_visibly(make_topology):
    # Full-size previz frames so a render lasts long enough to be killed in the middle.
    topo = make_topology(RENDER_WIDTH="854", RENDER_HEIGHT="480", RENDER_FPS="16", RENDER_MAX_RETRIES="1")
    user = seed(topo)[0]

    async def restart_render_worker():
        await asyncio.to_thread(topo.start_process, "worker-render")
        await asyncio.to_thread(topo.wait_ready, ["worker-render"], 90)

    async def scenario():
        async with ChatSocket(topo.web_urls[0], user["conversation_id"], user["sessionid"]) as ws:
            # Job 1: killed once, retried by the restarted worker, completes.
            first = await _request_render(ws, "We walk along the beach at sunset.", "k1")
            await ws.wait_for(_progress_of(first, attempt=1), 90)
            topo.kill("worker-render", signal.SIGKILL)
            await restart_render_worker()
            done = await ws.wait_for(_outcome_of(first), 120)
            assert done["type"] == "render.done", done
            assert any(f["type"] == "render.progress" and f["job_id"] == first and f.get("phase") == "requeued"
                       for f in ws.frames), "the user saw the retry"

            # Job 2: killed on every attempt: failed with a reason, shown in the chat.
            second = await _request_render(ws, "We climb the lighthouse stairs in the rain.", "k2")
            await ws.wait_for(_progress_of(second, attempt=1), 90)
            topo.kill("worker-render", signal.SIGKILL)
            await restart_render_worker()
            await ws.wait_for(_progress_of(second, attempt=2), 90)
            topo.kill("worker-render", signal.SIGKILL)
            failed = await ws.wait_for(_outcome_of(second), 60)
            notice = await ws.wait_for(lambda f: f["type"] == "message.created"
                                       and f["message"]["role"] != "user", 10)
            history = await ws.history(after_seq=0)
            return first, done, second, failed, notice, history

    first, _done, second, failed, notice, history = asyncio.run(scenario())
    assert topo.django(JOB_STATE.format(job_id=first)) == {"status": "succeeded", "attempts": 2, "detail": ""}
    assert failed["type"] == "render.failed"
    assert "stopped responding" in failed["detail"]
    state = topo.django(JOB_STATE.format(job_id=second))
    assert state["status"] == "failed" and state["attempts"] == 2
    # The failure is in the conversation history, not only a live frame.
    assert any(m["id"] == notice["message"]["id"] for m in history["messages"])
    # Nothing is left running.
    left = topo.django("from rendering.models import RenderJob\n"
                       "print(json.dumps(RenderJob.objects.filter(status='running').count()))")
    assert left == 0
