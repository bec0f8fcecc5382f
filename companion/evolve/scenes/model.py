"""Asking the chat model to read the beat (schema-constrained JSON), on the event loop, with a timeout.

The model sees the moment split the way the rules split it (what happens, what
is said) and what is already known of the scene, and answers ``ExtractedScene``;
``assemble`` then checks every field against the story's own evidence.
"""

from __future__ import annotations

import logging

from django.conf import settings
from pydantic import BaseModel, Field

from companion.chat.models import Message
from companion.evolve.scenes import reading
from companion.evolve.scenes.context import SceneContext
from companion.llm.base import ChatTurn, SamplingParams
from companion.llm.guard import ModelCallForbidden
from companion.llm.registry import get_backend
from rendering.beat import CameraMove, Framing

log = logging.getLogger(__name__)


class ExtractedScene(BaseModel):
    """What the model is asked to fill (its JSON schema drives constrained decoding).

    Every field may be null: the model says "no idea" rather than inventing,
    and the rules fill the gap. Time of day, weather and light are not asked:
    they come from the story's own words (a model that invents a storm cannot
    be checked against anything), see ``assemble``.
    """

    setting: str | None = Field(default=None, description="Where the scene happens, a short visual phrase.")
    action: str | None = Field(default=None, description="What the persona visibly does, one sentence.")
    camera: CameraMove | None = None
    framing: Framing | None = None
    mood: str | None = Field(default=None, description="One or two words.")
    duration_s: float | None = Field(default=None, ge=1.0, le=10.0)


SYSTEM_PROMPT = (
    "You are a film director's assistant. Turn one moment of a roleplay chat into a single short video shot. "
    "Describe only what is visible. The main character is {name}; the viewer is {user}. Use only places, actions "
    "and details present in the conversation; do not invent other people. Every person on screen is an adult. "
    "Answer with JSON: setting (the place, a short phrase), action ({name}'s visible action, third person, one "
    "sentence, not the dialogue), camera ({cameras}), framing ({framings}), mood (one or two words), "
    "duration_s (1-10)."
)


def scene_turns(ctx: SceneContext) -> list[ChatTurn]:
    persona = ctx.persona
    lines = [f"Character: {persona.name}."]
    if persona.appearance:
        lines.append(f"Appearance: {persona.appearance}")
    if persona.wardrobe:
        lines.append(f"Wardrobe: {persona.wardrobe}")
    if persona.style_tags:
        lines.append(f"Visual style: {', '.join(map(str, persona.style_tags))}")
    if ctx.scenario:
        lines.append(f"Scenario: {ctx.scenario[:500]}")
    for entry in ctx.lore:
        lines.append(f"Lore: {entry[:300]}")
    if ctx.stage:
        lines.append(f"Relationship stage with {ctx.user_name or 'the user'}: {ctx.stage}")
    if ctx.memories:
        lines.append("Things remembered: " + " | ".join(m[:200] for m in ctx.memories))
    if ctx.previous_beats:
        beat = ctx.previous_beats[0]
        lines.append(f"The last scene: {beat.get('setting')}, {beat.get('time_of_day')}, {beat.get('weather')}.")
    if ctx.before:
        lines.append("Recent conversation:")
        for m in ctx.before:
            who = persona.name if m.role == Message.Role.PERSONA else (ctx.user_name or "User")
            lines.append(f"{who}: {m.content[:500]}")
    split = reading.split_message(ctx.message.content)
    lines.append(f"\nThe moment to film ({persona.name}): {ctx.message.content[:1500]}")
    if split.narration:
        lines.append(f"What happens: {' '.join(split.narration)[:800]}")
    if split.speech:
        lines.append(f"What is said (not the action): {' '.join(split.speech)[:500]}")
    system = SYSTEM_PROMPT.format(
        name=persona.name,
        user=ctx.user_name or "the user",
        cameras=", ".join(c.value for c in CameraMove),
        framings=", ".join(f.value for f in Framing),
    )
    return [ChatTurn("system", system), ChatTurn("user", "\n".join(lines))]


async def scene_model_ask(ctx: SceneContext, seed: int) -> ExtractedScene | None:
    """The model's reading of the beat, or None (any failure or timeout: the rules cover it).

    Runs on the event loop (or through ``guard.model_call_sync`` in a thread of its
    own), never on the shared DB thread: ``ctx`` is already gathered.
    """
    params = SamplingParams(temperature=0.2, top_p=0.9, max_tokens=300, seed=seed)
    try:
        return await get_backend().complete_json(
            scene_turns(ctx), schema=ExtractedScene, params=params, timeout_s=settings.EVOLVE_EXTRACT_TIMEOUT_S
        )
    except ModelCallForbidden:
        raise
    except Exception as exc:  # any model failure: the rules guarantee a beat
        log.warning("scene extraction by the model failed (%s); using the rules", exc)
        return None
