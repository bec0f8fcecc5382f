"""Scenes: one persona message (and what surrounds it) read as a SceneBeat.

Three phases, so that no model call runs inside a transaction or on the shared
DB thread (``companion.llm.guard`` enforces it):

1. ``gather_context(message)`` (context.py): every database read, once;
2. ``await scene_model_ask(ctx, seed)`` (model.py): the model's reading, on the
   event loop, with a timeout; None when it fails;
3. ``beat_assemble(ctx=..., model_scene=..., direction=..., edit=...)``
   (assemble.py): pure, no database; the rules' reading (rules.py, over
   reading.py's narration/speech split and lexicon.py's cues) with the model's
   answer checked against it, the user's edit and Remix direction on top.

``scene_extract`` composes the three for sync callers.
"""

from __future__ import annotations

from companion.chat.models import Message
from companion.evolve.scenes.assemble import (
    DEFAULT_DURATION_S,
    beat_assemble,
    beat_caption,
    beat_problems,
    beat_seed,
    cast_note,
    compose_prompt,
    persona_character,
    user_character,
)
from companion.evolve.scenes.context import SceneContext, gather_context
from companion.evolve.scenes.model import ExtractedScene, scene_model_ask
from companion.evolve.scenes.rules import SceneReading, scene_read
from companion.llm.guard import model_call_sync
from rendering.beat import RenderDirection, SceneBeat

__all__ = [
    "DEFAULT_DURATION_S", "ExtractedScene", "SceneContext", "SceneReading", "beat_assemble", "beat_caption",
    "beat_problems", "beat_seed", "cast_note", "compose_prompt", "gather_context", "persona_character", "scene_extract",
    "scene_model_ask", "scene_read", "user_character",
]


def scene_extract(*, message: Message, direction: RenderDirection | None = None, use_model: bool = True) -> SceneBeat:
    """The beat for ``message`` (a persona text message), for sync callers.

    Gathers, calls the model (in a thread of its own), assembles: so never inside a
    transaction or on the shared DB thread.
    """
    ctx = gather_context(message)
    seed = beat_seed(message.pk, direction)
    model_scene = model_call_sync("scene extraction", scene_model_ask, ctx, seed) if use_model else None
    return beat_assemble(ctx=ctx, model_scene=model_scene, direction=direction)
