"""The gate as one choke point: every text that reaches a renderer, at request time and again in the worker."""

from __future__ import annotations

import pytest

from personas.models import Persona, Provenance
from rendering.beat import RenderDirection
from rendering.models import JobStatus, RenderJob, SafetyRefusal
from rendering.safety import (
    LIKENESS_MESSAGE,
    MINOR_MESSAGE,
    REAL_PERSON_MESSAGE,
    RenderRefused,
    check_render_allowed,
    find_real_person,
    render_prompt_text,
    render_texts,
)
from rendering.services import render_job_request
from tests.rendering.conftest import make_beat, wait_finished


def _refused(persona, beat) -> RenderRefused:
    with pytest.raises(RenderRefused) as refused:
        check_render_allowed(persona=persona, beat=beat)
    return refused.value


# --- every field ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "field, value",
    [
        ("setting", "a middle school classroom full of twelve-year-olds"),
        ("action", "Mira hugs a 14yo"),
        ("mood", "teen crush"),
        ("prompt", "Mira on a rooftop, una niña de 12 años"),
    ],
)
def test_every_beat_field_is_checked(persona, field, value):
    assert _refused(persona, make_beat(**{field: value})).reason == MINOR_MESSAGE


def test_character_fields_are_checked(persona):
    beat = make_beat(characters=[{"name": "Mira", "description": "adult", "is_persona": True},
                                 {"name": "Sam", "description": "a 15 year old boy"}])
    assert _refused(persona, beat).reason == MINOR_MESSAGE
    beat = make_beat(characters=[{"name": "Mira", "description": "adult", "trigger_words": ["schoolgirl"]}])
    assert _refused(persona, beat).reason == MINOR_MESSAGE


def test_remix_notes_are_checked(persona):
    beat = make_beat().with_direction(RenderDirection(notes="make her 16 y.o."))
    assert _refused(persona, beat).reason == MINOR_MESSAGE
    beat = make_beat().with_direction(RenderDirection(notes="she looks exactly like jenna ortega"))
    assert _refused(persona, beat).reason == REAL_PERSON_MESSAGE


def test_persona_appearance_and_lora_trigger_are_checked(persona):
    persona.appearance = "a petite girl with pigtails and a school uniform"
    assert _refused(persona, make_beat()).reason == MINOR_MESSAGE
    persona.appearance = "adult woman who looks like Zendaya"
    assert _refused(persona, make_beat()).reason == REAL_PERSON_MESSAGE
    persona.appearance = "adult woman, 30s"
    persona.video_lora_trigger = "t33n"
    assert _refused(persona, make_beat()).reason == MINOR_MESSAGE


def test_the_final_prompt_is_one_of_the_texts(persona):
    persona.style_tags = ["film grain"]
    beat = make_beat(prompt="")
    prompt = render_prompt_text(persona=persona, beat=beat)
    assert beat.action in prompt and "film grain" in prompt
    assert ("prompt", prompt) in render_texts(persona=persona, beat=beat)
    persona.style_tags = ["kid-sized characters, children everywhere"]
    assert _refused(persona, make_beat(prompt="")).reason == MINOR_MESSAGE


def test_the_negative_prompt_is_not_a_reason_to_refuse(persona):
    check_render_allowed(persona=persona, beat=make_beat(negative_prompt="child, minor, underage, blurry"))


# --- real people and consent ------------------------------------------------------------------
def test_persona_named_after_a_real_person_needs_consent(db):
    taylor = Persona.objects.create(name="Taylor Swift", appearance="adult woman, blonde")
    beat = make_beat(characters=[{"name": "Taylor Swift", "is_persona": True}], action="Taylor Swift sings")
    refused = _refused(taylor, beat)
    assert refused.reason == LIKENESS_MESSAGE and "Taylor Swift" in refused.rule
    taylor.provenance = Provenance.CONSENTED_LIKENESS
    taylor.consent_reference = "contract 2026-099, signed"
    taylor.real_person_name = "Taylor Swift"
    taylor.save()
    check_render_allowed(persona=taylor, beat=beat)
    check_render_allowed(persona=taylor, beat=make_beat(action="T. Swift waves", characters=[]))
    # consent covers her, not anyone else
    assert _refused(taylor, make_beat(action="Taylor Swift and Zendaya dance")).reason == REAL_PERSON_MESSAGE


def test_a_cast_member_named_after_a_real_person_is_not_allow_listed(persona):
    beat = make_beat(characters=[{"name": "Mira", "is_persona": True}, {"name": "Barack Obama"}],
                     action="Mira meets Barack Obama")
    assert _refused(persona, beat).reason == REAL_PERSON_MESSAGE


@pytest.mark.parametrize(
    "text",
    ["T. Swift on stage", "Obama at the beach", "she looks exactly like jenna ortega", "a lookalike of Emma Watson",
     "in the style of Billie Eilish", "resembling Timothée Chalamet", "looks like Swift", "T4yl0r Sw1ft"],
)
def test_real_people_by_initial_surname_and_likeness(text):
    assert find_real_person(text, allowed_names=["Mira"])


def test_extra_people_file_extends_the_packaged_list(settings, tmp_path):
    extra = tmp_path / "people.txt"
    extra.write_text("# ours\nAda Lovelace | Lovelace\n^Countess Ada\n", encoding="utf-8")
    assert find_real_person("Lovelace at her desk", allowed_names=[]) is None
    settings.RENDER_REAL_PEOPLE_FILE = str(extra)
    assert find_real_person("Lovelace at her desk", allowed_names=[]) == "Ada Lovelace"
    assert find_real_person("A. Lovelace at her desk", allowed_names=[]) == "Ada Lovelace"
    assert find_real_person("Taylor Swift sings", allowed_names=[]) == "Taylor Swift"


def test_places_named_after_people_pass():
    for text in ("sunset at the Lincoln Memorial", "chess in Washington Square", "Trump Tower in the snow",
                 "the Lennon Wall in Prague", "a flight out of JFK airport"):
        assert find_real_person(text, allowed_names=[]) is None, text


# --- request and worker -----------------------------------------------------------------------
def test_refused_request_is_recorded_and_queues_nothing(persona, user):
    beat = make_beat().with_direction(RenderDirection(notes="16 y.o."))
    with pytest.raises(RenderRefused):
        render_job_request(persona=persona, beat=beat, requested_by=user, source="chat.message:1", idempotency_key="a")
    row = SafetyRefusal.objects.get()
    assert row.source == "chat.message:1" and row.requested_by == user and "minor:" in row.reason
    assert RenderJob.objects.count() == 0


def test_worker_refuses_a_beat_that_never_went_through_the_request_gate(worker, persona, user):
    job = RenderJob.objects.create(
        persona=persona, beat=make_beat(action="Mira and a t​e​e​n on the bed").model_dump(mode="json"),
        requested_by=user, source="direct", idempotency_key="w1",
    )
    from rendering import actors

    actors.send_job(actors.render_clip, job)
    wait_finished(job)
    assert job.status == JobStatus.FAILED and job.error_detail == MINOR_MESSAGE and not job.clip
    row = SafetyRefusal.objects.get()
    assert row.source == "direct" and row.requested_by == user


def test_worker_sees_the_persona_as_it_is_now(worker, persona, user):
    from rendering import actors

    check_render_allowed(persona=persona, beat=make_beat())  # fine when requested
    job = RenderJob.objects.create(persona=persona, beat=make_beat().model_dump(mode="json"), requested_by=user,
                                   source="s", idempotency_key="w2")
    Persona.objects.filter(pk=persona.pk).update(appearance="looks like Margot Robbie")  # edited while queued
    actors.send_job(actors.render_clip, job)
    wait_finished(job)
    assert job.status == JobStatus.FAILED and job.error_detail == REAL_PERSON_MESSAGE
