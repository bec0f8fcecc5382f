"""The whole Evolve loop over the websocket with the real in-process Dramatiq worker.

Evolve -> render.queued -> render.progress -> render.done -> clip message,
then the clip is fetched the way the browser would (owner only). The renderer
is a tiny controllable one (tests/evolve/fake_renderer.py) so crashes and
cancels can be staged; the actor, pipeline, H.264 encoder, C2PA label and
storage are the real ones.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

import av
import dramatiq
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from companion.asgi import application
from companion.chat.models import Message
from rendering.models import JobStatus, RenderJob, SafetyRefusal
from rendering.worker import QUEUE
from tests.evolve.fake_renderer import FakeRenderer
from tests.workers import running_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

BEACH = "*smiles and walks toward you along the moonlit beach*"
FPS = 8


@pytest.fixture
def worker(settings):
    """A real Dramatiq worker thread on the stub broker, stopped (and the queues emptied) afterwards."""
    import rendering.actors  # noqa: F401  (registers the actors)
    from rendering.renderers import reset_renderer

    settings.RENDERER = "tests.evolve.fake_renderer.FakeRenderer"
    settings.RENDER_WIDTH, settings.RENDER_HEIGHT, settings.RENDER_FPS = 64, 48, FPS
    settings.RENDER_MAX_RETRIES = 1
    settings.RENDER_MIN_BACKOFF_MS = 10
    FakeRenderer.mode, FakeRenderer.attempts = "ok", 0
    FakeRenderer.started.clear()
    reset_renderer()
    with running_worker(worker_timeout=50) as w:
        yield w
    reset_renderer()


async def render_queue_drained(timeout_s: float = 30) -> None:
    """Every render message sent so far was processed (Dramatiq's own join on the stub broker)."""
    broker = dramatiq.get_broker()
    await asyncio.to_thread(broker.join, QUEUE, timeout=int(timeout_s * 1000), fail_fast=False)


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


class Socket:
    def __init__(self, comm: WebsocketCommunicator) -> None:
        self.comm = comm
        self.seen: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any]) -> None:
        await self.comm.send_to(text_data=json.dumps(frame))

    async def recv(self, wait_s: float = 20) -> dict[str, Any]:
        frame = json.loads(await self.comm.receive_from(timeout=wait_s))
        self.seen.append(frame)
        return frame

    async def until(self, predicate, wait_s: float = 30) -> list[dict[str, Any]]:
        frames = []
        async with asyncio.timeout(wait_s):
            while True:
                frame = await self.recv(wait_s)
                frames.append(frame)
                if predicate(frame):
                    return frames

    async def close(self) -> None:
        await self.comm.disconnect()


async def open_socket(conversation_id: int, user) -> Socket:
    client = await sync_to_async(_login)(user)
    headers = [
        (b"origin", b"http://testserver"),
        (b"host", b"testserver"),
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
    ]
    comm = WebsocketCommunicator(application, f"/ws/conversations/{conversation_id}/", headers=headers)
    connected, _ = await comm.connect(timeout=5)
    assert connected
    return Socket(comm)


def is_clip_message(frame: dict[str, Any]) -> bool:
    return frame["type"] == "message.created" and frame["message"]["kind"] == "clip"


def _fetch(client: Client, url: str, **headers) -> tuple[int, dict[str, str], bytes]:
    response = client.get(url, headers=headers)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, dict(response.headers), body


def _decoded_frames(data: bytes) -> int:
    with tempfile.NamedTemporaryFile(suffix=".mp4") as fh:
        fh.write(data)
        fh.flush()
        with av.open(fh.name) as container:
            return sum(1 for _ in container.decode(video=0))


async def test_evolve_to_clip_message_and_owner_only_clip(worker, user, other_user, say, conversation):
    msg = await sync_to_async(say)("persona", BEACH)
    sock = await open_socket(conversation.pk, user)
    await sock.send({"type": "render.request", "message_id": msg.pk, "client_id": "c1",
                     "direction": {"duration_s": 1}})
    frames = await sock.until(is_clip_message)
    types = [f["type"] for f in frames]

    assert types[0] == "render.queued"
    assert frames[0]["message_id"] == msg.pk and frames[0]["job"]["status"] == "queued"
    job_id = frames[0]["job_id"]
    progress = [f for f in frames if f["type"] == "render.progress"]
    assert progress and all(f["job_id"] == job_id for f in progress)
    assert any(f["phase"] == "rendering" and f["total"] == FPS for f in progress)
    assert types.index("render.done") > types.index("render.progress")
    done = frames[types.index("render.done")]
    assert done["job"]["status"] == "succeeded" and done["clip_url"] == f"/clips/{job_id}/video.mp4"

    clip = frames[-1]["message"]
    assert clip["role"] == "persona" and clip["kind"] == "clip"
    assert "walks toward Alex along the moonlit beach" in clip["content"]  # the beat as caption
    extra = clip["extra"]
    assert extra["job_id"] == job_id and extra["clip_url"] == done["clip_url"]
    assert extra["ai_generated"] is True and extra["label"]["self_signed"] is True
    assert extra["beat"]["setting"] == "moonlit beach"
    await sock.close()

    owner = await sync_to_async(_login)(user)
    status, headers, body = await sync_to_async(_fetch)(owner, done["clip_url"])
    assert status == 200 and headers["Content-Type"] == "video/mp4"
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Accept-Ranges"] == "bytes"
    assert _decoded_frames(body) == FPS  # 1 s at 8 fps

    status, headers, part = await sync_to_async(_fetch)(owner, done["clip_url"], Range="bytes=100-199")
    assert status == 206 and part == body[100:200]
    assert headers["Content-Range"] == f"bytes 100-199/{len(body)}"

    status, headers, poster = await sync_to_async(_fetch)(owner, extra["poster_url"])
    assert status == 200 and headers["Content-Type"] == "image/jpeg" and poster[:2] == b"\xff\xd8"
    status, headers, _ = await sync_to_async(_fetch)(owner, extra["download_url"])
    assert status == 200 and headers["Content-Disposition"].startswith("attachment")

    from rendering.labelling import read_manifest

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "clip.mp4").write_bytes(body)
        actions = read_manifest(Path(tmp) / "clip.mp4")["actions"]
    assert any(a["action"] == "c2pa.created" for a in actions)

    stranger = await sync_to_async(_login)(other_user)
    for url in (done["clip_url"], extra["poster_url"], extra["download_url"]):
        assert (await sync_to_async(_fetch)(stranger, url))[0] == 404
        assert (await sync_to_async(_fetch)(Client(), url))[0] == 404


async def test_transient_crash_is_retried_then_failed_and_the_chat_keeps_working(
    worker, user, say, conversation, scripted_backend
):
    FakeRenderer.mode = "transient"
    msg = await sync_to_async(say)("persona", BEACH)
    sock = await open_socket(conversation.pk, user)
    await sock.send({"type": "render.request", "message_id": msg.pk, "client_id": "c1"})
    frames = await sock.until(lambda f: f["type"] == "message.created" and f["message"]["kind"] == "notice")
    types = [f["type"] for f in frames]
    assert "render.failed" in types
    failed = frames[types.index("render.failed")]
    assert failed["job"]["status"] == "failed" and failed["job"]["attempts"] == 2  # first try + one retry
    assert any(f["type"] == "render.progress" and f["phase"] == "retrying" for f in frames)
    assert failed["detail"] and "out of memory" in failed["detail"]
    notice = frames[-1]["message"]
    assert notice["role"] == "persona" and failed["detail"] in notice["content"]
    assert FakeRenderer.attempts == 2

    # Nothing else is broken: a new render after the failure succeeds...
    FakeRenderer.mode = "ok"
    await sock.send({"type": "render.request", "message_id": msg.pk, "client_id": "c2"})
    await sock.until(is_clip_message)
    # ...and the conversation goes on: a normal message gets its reply.
    scripted_backend.replies = ["Still here."]
    await sock.send({"type": "message.send", "text": "Are you there?", "client_id": "m1"})
    done = await sock.until(lambda f: f["type"] == "message.done")
    assert done[-1]["message"]["content"] == "Still here."
    await sock.close()


async def test_plain_crash_fails_without_retry(worker, user, say, conversation):
    FakeRenderer.mode = "crash"
    msg = await sync_to_async(say)("persona", BEACH)
    sock = await open_socket(conversation.pk, user)
    await sock.send({"type": "render.request", "message_id": msg.pk, "client_id": "c1"})
    frames = await sock.until(lambda f: f["type"] == "render.failed")
    # the user is told it was an internal error; the exception text stays in the log (commit c21a81b)
    assert frames[-1]["job"]["attempts"] == 1 and "internal error" in frames[-1]["detail"]
    assert "exploded" not in frames[-1]["detail"]
    await sock.close()
    notices = await sync_to_async(list)(conversation.messages.filter(kind=Message.Kind.NOTICE))
    assert len(notices) == 1  # stored, so a reconnecting client sees it through history.sync


async def test_cancel_while_running(worker, user, say, conversation):
    FakeRenderer.mode = "slow"
    msg = await sync_to_async(say)("persona", BEACH)
    sock = await open_socket(conversation.pk, user)
    await sock.send({"type": "render.request", "message_id": msg.pk, "client_id": "c1",
                     "direction": {"duration_s": 5}})
    frames = await sock.until(lambda f: f["type"] == "render.progress" and f["phase"] == "rendering")
    job_id = frames[0]["job_id"]

    await sock.send({"type": "render.cancel", "job_id": job_id})
    frames = await sock.until(lambda f: f["type"] == "render.cancelled")
    assert frames[-1]["job"]["status"] == "cancelled"

    await render_queue_drained()  # the worker noticed between frames and stopped
    job = await RenderJob.objects.aget(pk=job_id)
    assert job.status == JobStatus.CANCELLED and not job.clip
    clips = await sync_to_async(conversation.messages.filter(kind=Message.Kind.CLIP).count)()
    assert clips == 0

    await sock.send({"type": "render.cancel", "job_id": job_id})  # too late now
    error = (await sock.until(lambda f: f["type"] == "error"))[-1]
    assert error["code"] == "invalid"
    await sock.send({"type": "render.cancel", "job_id": "00000000-0000-0000-0000-000000000000"})
    assert (await sock.until(lambda f: f["type"] == "error"))[-1]["code"] == "not_found"
    await sock.close()


async def test_refine_then_render_the_edited_beat(worker, user, say, conversation):
    msg = await sync_to_async(say)("persona", BEACH)
    sock = await open_socket(conversation.pk, user)
    await sock.send({"type": "render.preview", "message_id": msg.pk})
    beat_frame = (await sock.until(lambda f: f["type"] == "render.beat"))[-1]
    assert beat_frame["message_id"] == msg.pk
    beat = beat_frame["beat"]
    assert beat["setting"] == "moonlit beach" and beat["lighting"] == "moonlight"
    assert await RenderJob.objects.acount() == 0  # a preview queues nothing

    edited = {**beat, "setting": "a snowy pier", "lighting": "overcast", "duration_s": 1}
    await sock.send({"type": "render.request", "message_id": msg.pk, "client_id": "e1", "beat": edited})
    clip = (await sock.until(is_clip_message))[-1]["message"]
    assert clip["extra"]["beat"]["setting"] == "a snowy pier"
    assert clip["extra"]["beat"]["lighting"] == "overcast"
    assert "snowy pier" in clip["content"]

    await sock.send({"type": "render.preview", "message_id": msg.pk, "direction": {"camera": "warp"}})
    assert (await sock.until(lambda f: f["type"] == "error"))[-1]["code"] == "invalid_frame"
    await sock.close()


async def test_double_click_starts_one_render(worker, user, say, conversation):
    msg = await sync_to_async(say)("persona", BEACH)
    sock = await open_socket(conversation.pk, user)
    frame = {"type": "render.request", "message_id": msg.pk, "client_id": "c1", "direction": {"duration_s": 1}}
    await sock.send(frame)
    await sock.send(frame)
    await sock.until(is_clip_message)
    await render_queue_drained()  # a second job, had one been queued, would have run by now
    while not await sock.comm.receive_nothing(timeout=0.2):
        await sock.recv()
    assert await RenderJob.objects.acount() == 1
    queued = [f for f in sock.seen if f["type"] == "render.queued"]
    assert len({f["job_id"] for f in queued}) == 1
    assert len([f for f in sock.seen if is_clip_message(f)]) == 1
    await sock.close()


async def test_someone_elses_message_is_not_found(worker, user, other_user, persona, say, conversation):
    from companion.chat.models import Conversation

    theirs = await Conversation.objects.acreate(owner=other_user, persona=persona)
    their_msg = await sync_to_async(say)("persona", BEACH, conv=theirs)
    sock = await open_socket(conversation.pk, user)
    await sock.send({"type": "render.request", "message_id": their_msg.pk, "client_id": "c1"})
    frame = await sock.recv()
    assert frame == {"type": "error", "code": "not_found", "detail": frame["detail"]}
    await sock.send({"type": "render.request", "message_id": "not-a-number", "client_id": "c1"})
    assert (await sock.recv())["code"] == "invalid_frame"
    await sock.send({"type": "render.request", "message_id": 1, "direction": {"camera": "sideways"}})
    assert (await sock.recv())["code"] == "invalid_frame"
    assert await RenderJob.objects.acount() == 0
    await sock.close()


async def test_refused_scene_is_explained_in_the_chat(worker, user, say, conversation):
    msg = await sync_to_async(say)("persona", "*carries a crying baby across the beach*")
    sock = await open_socket(conversation.pk, user)
    await sock.send({"type": "render.request", "message_id": msg.pk, "client_id": "c1"})
    await sock.until(lambda f: f["type"] == "error")
    await sock.until(lambda f: f["type"] == "message.created")  # the notice, to every socket (any order)
    error = next(f for f in sock.seen if f["type"] == "error")
    assert error["code"] == "refused" and "minor" in error["detail"]
    notice = next(f["message"] for f in sock.seen if f["type"] == "message.created")
    assert notice["kind"] == "notice" and "minor" in notice["content"]
    assert await SafetyRefusal.objects.acount() == 1
    assert await RenderJob.objects.acount() == 0
    await sock.close()


async def test_reel_of_two_clips(worker, user, say, conversation):
    first = await sync_to_async(say)("persona", BEACH)
    second = await sync_to_async(say)("persona", "*looks up at the stars and laughs*")
    sock = await open_socket(conversation.pk, user)
    job_ids = []
    for msg in (first, second):
        await sock.send({"type": "render.request", "message_id": msg.pk, "client_id": f"c{msg.pk}",
                         "direction": {"duration_s": 1}})
        frames = await sock.until(is_clip_message)
        job_ids.append(frames[-1]["message"]["extra"]["job_id"])

    client = await sync_to_async(_login)(user)
    response = await sync_to_async(client.post)(
        "/api/evolve/reels/", {"conversation_id": conversation.pk, "job_ids": job_ids}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    reel_id = response.json()["id"]
    assert response.json()["parts"] == job_ids
    frames = await sock.until(is_clip_message)
    reel_msg = frames[-1]["message"]
    assert reel_msg["extra"]["job_id"] == reel_id and reel_msg["extra"]["job_kind"] == "reel"
    status, _headers, body = await sync_to_async(_fetch)(client, reel_msg["extra"]["clip_url"])
    assert status == 200 and _decoded_frames(body) == 2 * FPS  # both clips, in order

    other = await sync_to_async(client.post)(
        "/api/evolve/reels/", {"conversation_id": conversation.pk, "job_ids": ["0" * 32]},
        content_type="application/json",
    )
    assert other.status_code == 404
    await sock.close()


async def test_evolve_with_the_real_previz_renderer(worker, settings, user, say, conversation):
    """The embedded default's renderer end to end: the clip has the beat's duration at the configured fps."""
    settings.RENDERER = "previz"
    settings.RENDER_WIDTH, settings.RENDER_HEIGHT = 160, 96
    msg = await sync_to_async(say)("persona", "*lights a candle and looks up at you, smiling*")
    sock = await open_socket(conversation.pk, user)
    await sock.send({"type": "render.request", "message_id": msg.pk, "client_id": "p1",
                     "direction": {"duration_s": 1.5}})
    frames = await sock.until(is_clip_message)
    clip = frames[-1]["message"]
    assert clip["extra"]["beat"]["lighting"] == "candlelight" and clip["extra"]["beat"]["camera"] == "tilt_up"
    owner = await sync_to_async(_login)(user)
    status, _headers, body = await sync_to_async(_fetch)(owner, clip["extra"]["clip_url"])
    assert status == 200
    with tempfile.NamedTemporaryFile(suffix=".mp4") as fh:
        fh.write(body)
        fh.flush()
        with av.open(fh.name) as container:
            stream = container.streams.video[0]
            decoded = list(container.decode(video=0))
            assert (stream.width, stream.height) == (160, 96)
    assert len(decoded) == round(1.5 * FPS)
    await sock.close()
