"""Continue a finished clip, and watch a render form: what the user sees.

Continue: the next beat (typed, or the persona's next message) renders from the
clip's last frame with the same place, camera and light, a seed derived from
the parent's, through the same gate and rate limit; someone else's clip is not
found. Previews: render.progress frames carry a JPEG the owner alone can fetch.
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from django.test import Client
from PIL import Image

from companion.chat.models import Message
from companion.evolve import continues
from companion.evolve.models import Clip
from companion.evolve.receivers import frames_for
from companion.evolve.services import EvolveError
from rendering import encode
from rendering.actors import render_clip
from rendering.continuity import child_seed
from rendering.models import JobStatus, RenderJob, SafetyRefusal
from rendering.previews import preview_encode, preview_store
from rendering.renderers import reset_renderer
from rendering.renderers.previz import scene_terms
from rendering.services import render_job_request

pytestmark = pytest.mark.django_db

HARBOUR = {
    "setting": "the harbour wall at dusk", "action": "Mira watches the fishing boats come in",
    "camera": "pan_left", "framing": "medium", "lighting": "golden_hour", "mood": "wistful",
    "time_of_day": "dusk", "weather": "wind", "duration_s": 1.0, "seed": 4242,
    "characters": [{"name": "Mira", "description": "adult woman, auburn hair", "is_persona": True}],
}


@pytest.fixture(autouse=True)
def previz(settings):
    settings.RENDERER = "previz"
    settings.RENDER_WIDTH, settings.RENDER_HEIGHT, settings.RENDER_FPS = 128, 72, 16
    reset_renderer()
    yield
    reset_renderer()


def rendered(job: RenderJob) -> RenderJob:
    """Render in this thread, as a worker would (the actor's own function)."""
    render_clip.fn(str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_detail
    return job


@pytest.fixture
def parent(user, say, conversation) -> RenderJob:
    msg = say("persona", "*leans on the harbour wall as the boats come in*")
    job, _ = render_job_request(persona=conversation.persona, beat=HARBOUR, requested_by=user, source="test",
                                idempotency_key="parent",
                                link=lambda j: Clip.objects.create(job=j, conversation=conversation, message=msg))
    return rendered(job)


def frames_of(job: RenderJob) -> np.ndarray:
    return np.stack(list(encode.decode_frames(job.clip.path))).astype(int)


def test_a_typed_continue_starts_from_the_last_frame_and_keeps_the_shot(user, parent, conversation):
    job, created = continues.continue_request(user=user, job_id=parent.pk, text="Mira turns and waves to a boat")
    assert created and job.continues_id == parent.pk and job.chat_clip.message_id == parent.chat_clip.message_id
    beat, before = job.scene_beat, parent.scene_beat
    assert beat.action == "Mira turns and waves to a boat"
    for name in ("setting", "camera", "framing", "lighting", "time_of_day", "weather", "characters"):
        assert getattr(beat, name) == getattr(before, name), name
    assert beat.seed == child_seed(before.seed, "Mira turns and waves to a boat") != before.seed
    assert scene_terms(beat)[:3] == scene_terms(before)[:3] == ("harbour", "dusk", "wind")

    child = rendered(job)
    first, last = frames_of(child)[0], frames_of(parent)[-1]
    assert np.abs(first - last).mean() < 4  # the new shot opens on the old one's last picture
    clip_message = conversation.messages.filter(kind=Message.Kind.CLIP).latest("seq")
    assert clip_message.extra["continues"] == str(parent.pk) and clip_message.extra["ai_generated"] is True
    assert clip_message.extra["label"]["ai_generated"] is True


def test_an_empty_continue_renders_the_personas_next_message(user, parent, say):
    say("user", "What do you see?")
    nxt = say("persona", "*lifts the brass telescope and scans the horizon* A sail, far out.")
    job, _ = continues.continue_request(user=user, job_id=parent.pk)
    assert job.chat_clip.message_id == nxt.pk and job.continues_id == parent.pk
    assert "telescope" in job.scene_beat.action.lower()
    assert job.scene_beat.setting == parent.scene_beat.setting
    assert job.scene_beat.lighting == parent.scene_beat.lighting


def test_without_a_direction_or_a_later_message_it_asks_for_one(user, parent):
    with pytest.raises(EvolveError) as err:
        continues.continue_request(user=user, job_id=parent.pk)
    assert err.value.code == "invalid" and "Type what happens next" in err.value.detail


def test_someone_elses_clip_cannot_be_continued(parent, other_user):
    with pytest.raises(EvolveError) as err:
        continues.continue_request(user=other_user, job_id=parent.pk, text="she waves")
    assert err.value.code == "not_found"
    client = Client()
    client.force_login(other_user)
    response = client.post(f"/api/evolve/jobs/{parent.pk}/continue/", data=json.dumps({"text": "she waves"}),
                           content_type="application/json")
    assert response.status_code == 404
    assert RenderJob.objects.filter(continues=parent).count() == 0


def test_the_rest_action_continues_for_the_owner(user, parent):
    client = Client()
    client.force_login(user)
    url = f"/api/evolve/jobs/{parent.pk}/continue/"
    body = json.dumps({"text": "Mira sits on a bollard", "client_id": "c1"})
    first = client.post(url, data=body, content_type="application/json")
    again = client.post(url, data=body, content_type="application/json")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["continues"] == str(parent.pk) and again.json()["id"] == first.json()["id"]


def test_the_safety_gate_refuses_a_continue_that_names_a_minor(user, parent, conversation):
    with pytest.raises(EvolveError) as err:
        continues.continue_request(user=user, job_id=parent.pk, text="Mira holds the hand of a 12-year-old girl")
    assert err.value.code == "refused" and "minor" in err.value.detail
    assert RenderJob.objects.filter(continues=parent).count() == 0
    assert SafetyRefusal.objects.get().source == f"chat.continue:{parent.pk}"
    assert conversation.messages.filter(kind=Message.Kind.NOTICE).latest("seq").content == err.value.detail


def test_continues_share_the_render_rate_limit(user, parent, settings):
    settings.RENDER_RATE_LIMIT = "1/m"
    continues.continue_request(user=user, job_id=parent.pk, text="Mira waves")
    with pytest.raises(EvolveError) as err:
        continues.continue_request(user=user, job_id=parent.pk, text="Mira laughs")
    assert err.value.code == "rate_limited"


# --- live previews ---------------------------------------------------------------------


def test_progress_frames_carry_the_preview_as_an_image(parent):
    preview = preview_encode(np.full((72, 128, 3), (200, 120, 40), np.uint8), step=5)
    parent.progress_step, parent.progress_total = 5, 16
    frame = frames_for(job=parent, event="progress", conversation_id=parent.chat_clip.conversation_id,
                       preview=preview)[0]
    assert frame["type"] == "render.progress" and frame["preview"]["step"] == 5
    data = frame["preview"]["image"].removeprefix("data:image/jpeg;base64,")
    img = Image.open(io.BytesIO(base64.b64decode(data)))
    assert img.size == (160, 90) == (frame["preview"]["width"], frame["preview"]["height"])
    assert np.abs(np.asarray(img, dtype=int) - (200, 120, 40)).mean() < 6
    assert frame["preview"]["url"] == f"/clips/{parent.pk}/preview.jpg"
    assert len(json.dumps(frame)) < 16_000  # far under the 64 KiB websocket frame limit


def test_the_preview_url_is_the_owners_alone(user, other_user, parent):
    job, _ = continues.continue_request(user=user, job_id=parent.pk, text="Mira waves")
    RenderJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    preview_store(job_id=str(job.pk), preview=preview_encode(np.zeros((72, 128, 3), np.uint8)))
    url = f"/clips/{job.pk}/preview.jpg"
    owner, other = Client(), Client()
    owner.force_login(user)
    other.force_login(other_user)
    assert other.get(url).status_code == 404
    assert Client().get(url).status_code in (302, 404)
    response = owner.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response.content[:3] == b"\xff\xd8\xff" and "no-store" in response["Cache-Control"]
    assert owner.get(f"/clips/{parent.pk}/preview.jpg").status_code == 404  # finished: the clip replaced it


# --- the websocket frame ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(60)
async def test_render_continue_frame_queues_the_next_clip_for_the_owner_only(user, other_user, parent, persona):
    from asgiref.sync import sync_to_async

    from companion.chat.models import Conversation
    from tests.evolve.test_loop import open_socket

    conversation_id, message_id = await sync_to_async(
        lambda: (parent.chat_clip.conversation_id, parent.chat_clip.message_id))()
    sock = await open_socket(conversation_id, user)
    await sock.send({"type": "render.continue", "job_id": str(parent.pk), "text": "Mira waves", "client_id": "w1"})
    queued = (await sock.until(lambda f: f["type"] in ("render.queued", "error")))[-1]
    assert queued["type"] == "render.queued", queued
    assert queued["job"]["continues"] == str(parent.pk) and queued["message_id"] == message_id
    await sock.close()

    theirs = await sync_to_async(Conversation.objects.create)(owner=other_user, persona=persona, title="x")
    sock = await open_socket(theirs.pk, other_user)
    await sock.send({"type": "render.continue", "job_id": str(parent.pk), "text": "Mira waves"})
    error = (await sock.until(lambda f: f["type"] == "error"))[-1]
    assert error["code"] == "not_found"
    await sock.close()
