"""Evolve on a group-scene message: the shot holds the personas present then, the job is the speaker's,
the worker's render context carries the others' LoRAs, and the refine dialog says whose look is used."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from companion.chat import scene
from companion.chat.models import Message
from companion.chat.services import message_create
from companion.evolve.scenes import cast_note, scene_extract
from companion.evolve.services import evolve_request
from personas.models import Persona
from rendering.models import RenderJob
from rendering.pipeline import context_for

pytestmark = pytest.mark.django_db

HARBOUR = "*Jonas hauls the net onto the pier while the gulls circle the harbour*"


@pytest.fixture
def jonas(db):
    jonas = Persona.objects.create(name="Jonas", appearance="weathered man with a grey beard",
                                   video_lora_trigger="j0nas_person")
    jonas.video_lora.save("jonas.safetensors", ContentFile(b"lora"), save=True)
    return jonas


@pytest.fixture
def ines(db):
    return Persona.objects.create(name="Ines", appearance="young woman with flour on her apron")


def _reply(conversation, persona, text: str) -> Message:
    return message_create(conversation=conversation, role=Message.Role.PERSONA, kind=Message.Kind.TEXT,
                          content=text, status=Message.Status.COMPLETE, persona=persona)


def test_the_shot_holds_the_speaker_first_and_who_was_there(conversation, persona, jonas, ines):
    scene.member_add(conversation=conversation, persona=jonas)
    reply = _reply(conversation, jonas, HARBOUR)
    scene.member_add(conversation=conversation, persona=ines)  # came later: not in that shot
    beat = scene_extract(message=reply)
    personas = [(c.name, c.persona_id) for c in beat.characters if c.is_persona]
    assert personas == [("Jonas", jonas.pk), ("Mira", persona.pk)]
    assert beat.prompt.startswith("j0nas_person")
    assert "Mira" in cast_note(beat, multi_lora=False) and "only Jonas's is used" in cast_note(beat, multi_lora=False)
    assert "each with their own look" in cast_note(beat, multi_lora=True)


def test_a_one_persona_message_has_no_cast_note(conversation, persona, say):
    beat = scene_extract(message=say("persona", HARBOUR))
    assert [c.name for c in beat.characters if c.is_persona] == ["Mira"]
    assert cast_note(beat, multi_lora=False) == ""


def test_the_job_is_the_speakers_and_the_worker_gets_the_others_loras(user, conversation, persona, jonas):
    scene.member_add(conversation=conversation, persona=jonas)
    mira_reply = _reply(conversation, persona, "*Mira waves from the lighthouse door at Jonas on the pier*")
    job, _ = evolve_request(user=user, message=mira_reply, client_id="c1")
    assert job.persona == persona
    ctx = context_for(RenderJob.objects.get(pk=job.pk))
    assert ctx.persona_name == "Mira"
    assert [(c.name, c.lora_trigger, bool(c.lora_path)) for c in ctx.cast] == [("Jonas", "j0nas_person", True)]
