"""Evolve services without a worker: ownership, idempotency, refusal, refine, reels."""

from __future__ import annotations

import json

import pytest

from companion.chat.models import Conversation, Message
from companion.evolve import services
from companion.evolve.services import EvolveError, evolve_request
from rendering.beat import CameraMove, RenderDirection
from rendering.models import JobStatus, RenderJob, SafetyRefusal

pytestmark = pytest.mark.django_db

BEACH = "*smiles and walks toward you along the moonlit beach*"


def test_evolve_queues_one_job_for_the_message(user, say, persona):
    msg = say("persona", BEACH)
    job, created = evolve_request(user=user, message=msg, client_id="c1")
    assert created
    assert job.source == f"chat.message:{msg.pk}"
    assert job.requested_by == user and job.persona == persona
    assert job.status == JobStatus.QUEUED
    assert job.beat["setting"] == "moonlit beach" and job.beat["camera"] == "dolly_in"
    assert job.beat["characters"][0]["trigger_words"] == ["m1ra_person"]


def test_double_click_gives_the_same_job(user, say):
    msg = say("persona", BEACH)
    first, _ = evolve_request(user=user, message=msg, client_id="c1")
    again, created = evolve_request(user=user, message=msg, client_id="c1")
    other_click, created2 = evolve_request(user=user, message=msg, client_id="c2")  # a new client id, same beat
    assert (again.pk, created) == (first.pk, False)
    assert (other_click.pk, created2) == (first.pk, False)
    assert RenderJob.objects.count() == 1


def test_remix_is_a_new_job_with_the_direction(user, say):
    msg = say("persona", BEACH)
    first, _ = evolve_request(user=user, message=msg, client_id="c1")
    remix, created = evolve_request(user=user, message=msg, client_id="c1",
                                    direction=RenderDirection(camera="orbit", duration_s=2))
    assert created and remix.pk != first.pk
    assert remix.beat["camera"] == "orbit" and remix.beat["duration_s"] == 2
    assert remix.beat["setting"] == first.beat["setting"]


def test_a_finished_job_can_be_rendered_again_with_a_new_click(user, say):
    msg = say("persona", BEACH)
    first, _ = evolve_request(user=user, message=msg, client_id="c1")
    RenderJob.objects.filter(pk=first.pk).update(status=JobStatus.FAILED)
    retry, created = evolve_request(user=user, message=msg, client_id="c2")
    assert created and retry.pk != first.pk


def test_someone_elses_message_is_not_found(other_user, say):
    msg = say("persona", BEACH)
    with pytest.raises(EvolveError) as err:
        evolve_request(user=other_user, message=msg, client_id="x")
    assert err.value.code == "not_found"
    assert RenderJob.objects.count() == 0


@pytest.mark.parametrize("role,kind", [("user", "text"), ("persona", "notice"), ("persona", "clip")])
def test_only_persona_text_messages_evolve(user, say, role, kind):
    msg = say(role, "A walk on the beach.", kind=kind)
    with pytest.raises(EvolveError) as err:
        evolve_request(user=user, message=msg, client_id="x")
    assert err.value.code == "invalid"


def test_refused_beat_posts_a_notice_and_is_logged(user, say, conversation):
    msg = say("persona", "*takes the hand of a 12-year-old girl on the beach*")
    with pytest.raises(EvolveError) as err:
        evolve_request(user=user, message=msg, client_id="x")
    assert err.value.code == "refused"
    assert "minor" in err.value.detail
    assert RenderJob.objects.count() == 0
    refusal = SafetyRefusal.objects.get()
    assert refusal.requested_by == user and refusal.source == f"chat.message:{msg.pk}"
    notice = conversation.messages.get(kind=Message.Kind.NOTICE)
    assert notice.role == Message.Role.PERSONA and notice.content == err.value.detail
    assert err.value.notice == notice


def test_scene_preview_queues_nothing_and_matches_the_render(user, say):
    msg = say("persona", BEACH)
    beat = services.scene_preview(user=user, message=msg)
    assert RenderJob.objects.count() == 0
    job, _ = evolve_request(user=user, message=msg, client_id="c1")
    assert job.beat == beat.model_dump(mode="json")


def test_edited_beat_is_rendered_with_the_persona_kept(user, say):
    msg = say("persona", BEACH)
    edit = {"setting": "a rooftop garden", "action": "Mira waters the tomatoes", "camera": "crane_up",
            "framing": "wide", "lighting": "golden_hour", "mood": "content", "duration_s": 3,
            "characters": [], "prompt": "something else entirely", "seed": 7}
    job, created = evolve_request(user=user, message=msg, client_id="c1", beat_override=edit)
    assert created
    beat = job.scene_beat
    assert beat.setting == "a rooftop garden" and beat.camera == CameraMove.CRANE_UP and beat.duration_s == 3
    assert [c.name for c in beat.characters] == ["Mira"] and beat.characters[0].trigger_words == ["m1ra_person"]
    assert "something else" not in beat.prompt and "waters the tomatoes" in beat.prompt
    assert beat.seed != 7


def test_cancel_only_own_jobs(user, other_user, say):
    msg = say("persona", BEACH)
    job, _ = evolve_request(user=user, message=msg, client_id="c1")
    with pytest.raises(EvolveError):
        services.evolve_cancel(user=other_user, job_id=job.pk)
    assert services.evolve_cancel(user=user, job_id=job.pk).status == JobStatus.CANCELLED


def test_reel_needs_finished_clips_of_this_conversation(user, say, persona, conversation):
    msg = say("persona", BEACH)
    job, _ = evolve_request(user=user, message=msg, client_id="c1")
    with pytest.raises(EvolveError) as err:
        services.reel_create(user=user, conversation=conversation, job_ids=[job.pk])
    assert err.value.code == "invalid"  # not finished yet
    elsewhere = Conversation.objects.create(owner=user, persona=persona)
    with pytest.raises(EvolveError) as err:
        services.reel_create(user=user, conversation=elsewhere, job_ids=[job.pk])
    assert err.value.code == "not_found"


def test_new_renders_are_rate_limited_but_repeats_are_free(user, say, settings):
    settings.RENDER_RATE_LIMIT = "2/m"
    msg = say("persona", BEACH)
    a, _ = evolve_request(user=user, message=msg, client_id="c1", direction=RenderDirection(duration_s=1))
    b, _ = evolve_request(user=user, message=msg, client_id="c1", direction=RenderDirection(duration_s=2))
    for _ in range(3):  # double-clicks of a job already asked for
        assert evolve_request(user=user, message=msg, client_id="c1", direction=RenderDirection(duration_s=1))[0] == a
    with pytest.raises(EvolveError) as err:
        evolve_request(user=user, message=msg, client_id="c1", direction=RenderDirection(duration_s=3))
    assert err.value.code == "rate_limited"
    assert RenderJob.objects.count() == 2 and b.pk != a.pk


# --- the guard model, asked when the request is made (before anything is queued) ----------
# ``guard``: the scripted OpenAI-format guard server of the rendering tests, configured as SAFETY_MODEL.


def test_a_guard_refusal_at_request_time_queues_nothing_and_tells_the_chat(user, say, guard):
    msg = say("persona", BEACH)
    guard.script = ["unsafe\nS4"]
    with pytest.raises(EvolveError) as refused:
        evolve_request(user=user, message=msg, client_id="g1")
    assert refused.value.code == "refused" and refused.value.notice is not None
    assert RenderJob.objects.count() == 0
    assert len(guard.bodies) == 1  # it read the final prompt once, before queueing
    assert "moonlit beach" in json.dumps(guard.bodies[0])


def test_a_guard_that_is_down_answers_unavailable_without_a_refusal(user, say, guard, settings):
    from tests.llm.openai_server import free_port

    msg = say("persona", BEACH)
    settings.SAFETY_MODEL_BASE_URL = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(EvolveError) as failed:
        evolve_request(user=user, message=msg, client_id="g2")
    assert failed.value.code == "unavailable"
    assert RenderJob.objects.count() == 0 and SafetyRefusal.objects.count() == 0


def test_a_guard_that_allows_lets_the_job_queue(user, say, guard):
    msg = say("persona", BEACH)
    job, created = evolve_request(user=user, message=msg, client_id="g3")
    assert created and job.status == JobStatus.QUEUED
