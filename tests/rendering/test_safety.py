import pytest

from personas.models import Persona, Provenance
from rendering.models import RenderJob, SafetyRefusal
from rendering.safety import (
    MINOR_MESSAGE,
    REAL_PERSON_MESSAGE,
    RenderRefused,
    check_render_allowed,
    find_minor_reference,
    find_real_person,
)
from rendering.services import render_job_request
from tests.rendering.conftest import make_beat


@pytest.mark.parametrize(
    "text",
    [
        "a child plays on the beach",
        "two kids run past",
        "she is a minor.",
        "a teenager on a skateboard",
        "her teenage self in the mirror",
        "an underage girl at the bar",
        "dressed as a schoolgirl",
        "a 16-year-old at the party",
        "a sixteen year old sits down",
        "she is 15 years old",
        "the girl, aged 12, smiles",
        "holding a baby in her arms",
        "a toddler laughs",
        "loli art style",
        "a little girl waves",
        "a preteen in the crowd",
        "ADOLESCENT on the stairs",
    ],
)
def test_minor_references_are_found(text):
    assert find_minor_reference(text), text


@pytest.mark.parametrize(
    "text",
    [
        "she wears a baby blue dress",
        "a minor detail on the wall",
        "a melody in A minor key",
        "no kidding, she laughs",
        "a 25-year-old painter",
        "a twenty-five-year-old painter",
        "a 12-year-old whisky on the table",
        "they met 5 years ago",
        "a wine aged 12 years",
        "oh baby, come here",
        "thirteen floors up, the city glitters",
        "a young woman in a red coat",
        "her childhood home, now empty",
        "she pulls on kid gloves",
        "a 30 year old woman with freckles",
    ],
)
def test_ordinary_words_are_not_flagged(text):
    assert find_minor_reference(text) is None, text


@pytest.mark.parametrize(
    "text",
    [
        "a woman who looks like Scarlett Johansson",
        "in the likeness of Jane Doemann",
        "she resembles Margot Robbie",
        "dressed as Keanu Reeves",
        "Taylor Swift sings on stage",
        "beyoncé dances",
    ],
)
def test_real_people_are_found(text):
    assert find_real_person(text, allowed_names=["Mira"]), text


@pytest.mark.parametrize(
    "text",
    [
        "she looks like Mira did at twenty",
        "in the likeness of Mira",
        "it looks like rain tonight",
        "It looks like I forgot my umbrella",
        "dressed as a pirate",
        "Leo and Mira walk along the river",
        "swift taylor-made jacket",
    ],
)
def test_cast_and_plain_phrases_are_not_real_people(text):
    assert find_real_person(text, allowed_names=["Mira", "Leo"]) is None, text


def test_deny_list_setting_extends_the_packaged_list(settings):
    settings.RENDER_REAL_PERSON_NAMES = ["Ada Lovelace"]
    assert find_real_person("Ada Lovelace at her desk", allowed_names=[]) == "Ada Lovelace"
    assert find_real_person("Taylor Swift sings", allowed_names=[]) == "Taylor Swift"  # the data file still applies


def test_unconsented_real_likeness_persona_is_refused(persona):
    persona.real_person_name = "Jane Realperson"
    persona.save()
    with pytest.raises(RenderRefused):
        check_render_allowed(persona=persona, beat=make_beat())
    persona.provenance = Provenance.CONSENTED_LIKENESS
    persona.consent_reference = "contract 2026-041, signed"
    persona.save()
    # with consent, her own name is fine in the beat
    beat = make_beat(action="Jane Realperson waves, in the likeness of Jane Realperson")
    check_render_allowed(persona=persona, beat=beat)


def test_consented_provenance_without_reference_is_refused(db):
    p = Persona.objects.create(name="Real", provenance=Provenance.CONSENTED_LIKENESS, consent_reference="  ")
    with pytest.raises(RenderRefused):
        check_render_allowed(persona=p, beat=make_beat(characters=[]))


def test_refusal_is_logged_and_nothing_is_queued(persona, user, caplog):
    beat = make_beat(action="Mira hugs a 14-year-old boy")
    with pytest.raises(RenderRefused) as refused:
        render_job_request(persona=persona, beat=beat, requested_by=user, source="chat.message:9", idempotency_key="k1")
    assert refused.value.reason == MINOR_MESSAGE
    row = SafetyRefusal.objects.get()
    assert (row.persona, row.requested_by, row.source) == (persona, user, "chat.message:9")
    assert "14-year-old" in row.reason and row.beat["action"] == beat.action
    assert RenderJob.objects.count() == 0
    assert "render refused" in caplog.text


def test_real_person_beat_refused_with_clear_message(persona, user):
    beat = make_beat(prompt="Mira, who looks like Zendaya, on a rooftop")
    with pytest.raises(RenderRefused) as refused:
        render_job_request(persona=persona, beat=beat, requested_by=user, source="s", idempotency_key="k2")
    assert refused.value.reason == REAL_PERSON_MESSAGE
    assert SafetyRefusal.objects.count() == 1


def test_ordinary_beat_passes(persona, user):
    job, created = render_job_request(
        persona=persona, beat=make_beat(setting="a cafe, baby blue walls"), requested_by=user, source="s",
        idempotency_key="k3",
    )
    assert created and job.status == "queued"
    assert SafetyRefusal.objects.count() == 0
