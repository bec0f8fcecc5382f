"""The content safety gate: no clip shows a minor, or a real person without recorded consent.

One choke point, ``check_render_allowed(persona=, beat=)``, sees everything
that can reach a renderer: every free-text field of the beat (setting, action,
mood, the prompt with any Remix notes, the refined fields the user edited,
each character's name, description and trigger words), the persona's name,
appearance, wardrobe, LoRA trigger and style tags, and the final prompt string
the diffusers renderer will receive.  It runs when a job is requested
(``render_safety_gate``, from ``services.render_job_request``) and again in the
worker right before rendering (``render_worker_gate``, from the pipeline), so a
beat written to the database some other way, or a persona edited after the
request, is still checked.

Rules (``minors``, ``people``) work on normalised views of the text
(``normalise``): homoglyphs, zero-width characters, leetspeak, spacing and
stretching tricks are undone first.  An optional guard model (``model``)
classifies the final prompt; either refusing refuses, and a model that cannot
be reached fails closed.  Every refusal is written to ``SafetyRefusal`` and
logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from personas.models import Persona, Provenance
from rendering.beat import SceneBeat
from rendering.safety.ages import ADULT_AGE
from rendering.safety.minors import find_minor_reference
from rendering.safety.model import (
    ALLOW,
    REFUSE,
    UNAVAILABLE,
    UNAVAILABLE_MESSAGE,
    Verdict,
    safety_model_configured,
    safety_model_verdict,
    safety_model_verdict_sync,
)
from rendering.safety.normalise import fold, text_views
from rendering.safety.people import find_people, name_is_real_person

log = logging.getLogger(__name__)

__all__ = [
    "ADULT_AGE",
    "ALLOW",
    "LIKENESS_MESSAGE",
    "MINOR_MESSAGE",
    "MODEL_REFUSED_MESSAGE",
    "REAL_PERSON_MESSAGE",
    "REFUSE",
    "UNAVAILABLE",
    "UNAVAILABLE_MESSAGE",
    "RenderRefused",
    "SafetyCheckUnavailable",
    "Verdict",
    "check_render_allowed",
    "find_minor_reference",
    "find_real_person",
    "render_prompt_text",
    "render_request_verdict",
    "render_safety_gate",
    "render_texts",
    "render_worker_gate",
    "safety_model_configured",
    "safety_model_verdict",
    "safety_model_verdict_sync",
    "text_views",
]

MINOR_MESSAGE = "I can't create a scene that involves a minor. Every character on screen must be an adult."
REAL_PERSON_MESSAGE = (
    "I can't create a scene showing a real person without their recorded consent. "
    "Describe a fictional character instead."
)
LIKENESS_MESSAGE = (
    "This persona is based on a real person's likeness and has no recorded consent, so it can't be rendered."
)
MODEL_REFUSED_MESSAGE = "The safety check refused this scene, so it won't be rendered. Try describing it differently."


class RenderRefused(Exception):
    """The request was refused by the safety gate; ``reason`` is safe to show the user."""

    def __init__(self, reason: str, *, rule: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.rule = rule


class SafetyCheckUnavailable(RenderRefused):
    """The safety model could not give a verdict (timeout, outage): refused, and worth retrying later."""


# --- real people with the allow-list -------------------------------------------------------
def _key(text: str) -> str:
    return "".join(ch for ch in fold(text).lower() if ch.isalnum())


def find_real_person(text: str, *, allowed_names: Iterable[str]) -> str | None:
    """A real person named or evoked in ``text`` who is not one of ``allowed_names``.

    ``allowed_names`` are the fictional cast and the consented real person; the gate
    builds it (``_allowed_names``) so a persona merely *named* after someone is not on it.
    """
    allowed = {_key(n) for n in allowed_names if n and n.strip()}
    allowed_parts = {_key(part) for n in allowed_names if n for part in fold(n).split() if _key(part)}
    for found in find_people(text):
        if _key(found.person) in allowed:
            continue
        if not found.listed and (allowed_parts & {_key(p) for p in found.person.split()}):
            continue  # "looks like Mira Lane" when Mira is the cast
        return found.person
    return None


def _persona_is_real_likeness(persona: Persona) -> str | None:
    """Why this persona is a real person's likeness (needing consent), or None."""
    if persona.provenance == Provenance.CONSENTED_LIKENESS:
        return "provenance"
    if persona.real_person_name.strip():
        return "real_person_name"
    if (person := name_is_real_person(persona.name)) is not None:
        return f"named after {person.name}"
    return None


def _allowed_names(persona: Persona, beat: SceneBeat) -> list[str]:
    consented = persona.has_consent_for_likeness
    allowed: list[str] = []
    consented_people = set()
    if consented:
        for name in (persona.real_person_name, persona.name):
            if name and name.strip():
                allowed.append(name)
                if (person := name_is_real_person(name)) is not None:
                    allowed.append(person.name)
                    consented_people.add(_key(person.name))
    for name in (persona.name, *(c.name for c in beat.characters)):
        if not name or not name.strip():
            continue
        person = name_is_real_person(name)
        if person is None or _key(person.name) in consented_people:
            allowed.append(name)
    return allowed


# --- what reaches the renderer -------------------------------------------------------------
def render_prompt_text(*, persona: Persona, beat: SceneBeat) -> str:
    """The prompt string the diffusers renderer will be given for this persona and beat."""
    # The GPU renderer's module is loaded only where it is configured (renderers.get_renderer, by
    # dotted path) and by this preview of its prompt: not by every importer of the safety gate.
    from rendering.renderers.base import RenderContext
    from rendering.renderers.diffusers_video import prompt_for

    ctx = RenderContext(
        job_id="", beat=beat, persona_id=persona.pk or 0, persona_name=persona.name,
        persona_appearance=persona.appearance, lora_trigger=persona.video_lora_trigger,
        style_tags=tuple(str(t) for t in (persona.style_tags or ())),
    )
    return prompt_for(ctx, with_trigger=True)


def _strings(value, path: str = "beat") -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [t for k, v in value.items() if k != "negative_prompt" for t in _strings(v, f"{path}.{k}")]
    if isinstance(value, list | tuple):
        return [t for i, v in enumerate(value) for t in _strings(v, f"{path}[{i}]")]
    return []


def render_texts(*, persona: Persona, beat: SceneBeat) -> list[tuple[str, str]]:
    """(where, text) for every piece of text a renderer can draw from (the negative prompt excepted).

    Every string in the beat is included, not a list of fields, so a field added to
    SceneBeat later is checked without anyone remembering to add it here.
    """
    listed = beat.text_for_safety()
    texts = [
        ("beat", listed),
        *((where, text) for where, text in _strings(beat.model_dump(mode="json")) if text not in listed),
        ("persona.name", persona.name),
        ("persona.appearance", persona.appearance),
        ("persona.wardrobe", getattr(persona, "wardrobe", "") or ""),
        ("persona.lora_trigger", persona.video_lora_trigger),
        ("persona.style_tags", ", ".join(str(t) for t in (persona.style_tags or ()))),
        ("prompt", render_prompt_text(persona=persona, beat=beat)),
    ]
    return [(where, text) for where, text in texts if text and text.strip()]


def check_render_allowed(*, persona: Persona, beat: SceneBeat, model_verdict: Verdict | None = None) -> None:
    """Raise RenderRefused when the persona or the beat may not be rendered.

    ``model_verdict`` is the guard model's verdict on ``render_prompt_text`` when the
    caller already has it (see ``render_request_verdict``); this function never calls
    the model itself, so it is safe anywhere, including the shared database thread.
    """
    if (why := _persona_is_real_likeness(persona)) and not persona.has_consent_for_likeness:
        raise RenderRefused(LIKENESS_MESSAGE, rule=f"likeness_without_consent:{why}")

    texts = render_texts(persona=persona, beat=beat)
    joined = " \n".join(text for _, text in texts)
    cast = [persona.name, *(c.name for c in beat.characters)]
    if phrase := find_minor_reference(joined, names=cast):
        raise RenderRefused(MINOR_MESSAGE, rule=f"minor:{phrase}")
    if name := find_real_person(joined, allowed_names=_allowed_names(persona, beat)):
        raise RenderRefused(REAL_PERSON_MESSAGE, rule=f"real_person:{name}")

    if model_verdict is not None:
        _apply_verdict(model_verdict)


def _apply_verdict(verdict: Verdict) -> None:
    if verdict.outcome == REFUSE:
        raise RenderRefused(MODEL_REFUSED_MESSAGE, rule=f"safety_model:{verdict.detail[:100]}")
    if verdict.outcome == UNAVAILABLE:
        raise SafetyCheckUnavailable(UNAVAILABLE_MESSAGE, rule=f"safety_model_unavailable:{verdict.detail}")


async def render_request_verdict(*, persona: Persona, beat: SceneBeat) -> Verdict | None:
    """The guard model's verdict on the final prompt, or None when no model is configured.

    For request paths on an event loop: await this (outside any transaction, off the
    shared database thread), then pass it to ``render_job_request(model_verdict=...)``.
    ``persona`` must be loaded already (only its fields are read).
    """
    if not safety_model_configured():
        return None
    return await safety_model_verdict(render_prompt_text(persona=persona, beat=beat))


def _record(*, persona: Persona | None, beat: SceneBeat, requested_by, source: str, refused: RenderRefused) -> None:
    from rendering.models import SafetyRefusal  # models import beat; keep this module importable alone

    if isinstance(refused, SafetyCheckUnavailable):  # an outage, not a content decision: log only
        log.warning("render refused for persona %s: safety model unavailable (%s) source=%s",
                    getattr(persona, "pk", None), refused.rule, source)
        return
    SafetyRefusal.objects.create(
        persona=persona,
        requested_by=requested_by if getattr(requested_by, "pk", None) else None,
        source=source,
        reason=f"{refused.rule}: {refused.reason}"[:10_000],
        beat=beat.model_dump(mode="json"),
    )
    log.warning("render refused for persona %s (%s) source=%s", getattr(persona, "pk", None), refused.rule, source)


def render_safety_gate(
    *, persona: Persona, beat: SceneBeat, requested_by, source: str, model_verdict: Verdict | None = None
) -> None:
    """Check, and on refusal record it for the admin before re-raising."""
    try:
        check_render_allowed(persona=persona, beat=beat, model_verdict=model_verdict)
    except RenderRefused as refused:
        _record(persona=persona, beat=beat, requested_by=requested_by, source=source, refused=refused)
        raise


def render_worker_gate(*, job, beat: SceneBeat | None = None) -> None:
    """The worker's check right before rendering: the rules again, then the guard model (when configured).

    Reads the persona as it is now; calls the model synchronously, so it must run
    outside any transaction (the pipeline calls it after the job was claimed).
    """
    persona = job.persona
    beat = beat or job.scene_beat
    try:
        check_render_allowed(persona=persona, beat=beat)
        if safety_model_configured():
            _apply_verdict(safety_model_verdict_sync(render_prompt_text(persona=persona, beat=beat)))
    except RenderRefused as refused:
        _record(persona=persona, beat=beat, requested_by=job.requested_by, source=job.source, refused=refused)
        raise

