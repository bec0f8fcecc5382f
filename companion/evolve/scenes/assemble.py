"""Scene extraction: one persona message (and what surrounds it) -> a SceneBeat.

The LLM fills an ``ExtractedScene`` through schema-constrained decoding
(``ChatBackend.complete_json``). Its answer is then checked field by field:
valid fields are kept, empty or garbage ones are filled from a deterministic
fallback built from lexicons over the message's own words, so a weak model
(or no model at all) still yields a sensible beat. The characters are never
left to the model: the persona is drawn from her card (appearance, wardrobe,
LoRA trigger words) and the user appears only as the user described
themselves, in their own words; nothing about the user is invented.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from pydantic import BaseModel, Field

from companion.accounts.selectors import user_display_name
from companion.chat.models import Message
from companion.evolve import lexicon
from companion.llm.base import ChatTurn, SamplingParams
from companion.llm.guard import model_call_sync
from rendering.beat import CameraMove, CharacterRef, Framing, Lighting, RenderDirection, SceneBeat

log = logging.getLogger(__name__)

CONTEXT_BEFORE = 6  # turns before the chosen message shown to the model
MEMORY_K = 5
DEFAULT_DURATION_S = 4.0
MAX_TEXT = 400  # per free-text field from the model


class ExtractedScene(BaseModel):
    """What the model is asked to fill (its JSON schema drives constrained decoding).

    Every field may be null: the model says "no idea" rather than inventing,
    and the fallback fills the gap.
    """

    setting: str | None = Field(default=None, description="Where the scene happens, a short visual phrase.")
    action: str | None = Field(default=None, description="What the persona visibly does, one sentence.")
    camera: CameraMove | None = None
    framing: Framing | None = None
    lighting: Lighting | None = None
    mood: str | None = Field(default=None, description="One or two words.")
    duration_s: float | None = Field(default=None, ge=1.0, le=10.0)


@dataclass
class SceneContext:
    """Everything the extractor reads, gathered once."""

    message: Message
    persona: Any
    user: Any
    before: list[Message] = field(default_factory=list)
    memories: list[str] = field(default_factory=list)
    stage: str = ""
    user_name: str = ""  # read with the rest: the model step runs where the ORM may not

    @property
    def story_text(self) -> str:
        """The chosen message first, then older turns (newest first): cues are searched in this order."""
        return "\n".join([self.message.content, *(m.content for m in reversed(self.before))])


# --- gathering -----------------------------------------------------------------


def _context_messages(message: Message) -> list[Message]:
    qs = message.conversation.messages.filter(
        seq__lt=message.seq, deleted=False, is_active=True, kind=Message.Kind.TEXT
    ).exclude(status=Message.Status.STREAMING)
    return list(reversed(qs.order_by("-seq")[:CONTEXT_BEFORE]))


def _memory_text(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        return str(item.get("text") or item.get("content") or "")
    for attr in ("text", "content", "summary"):
        value = getattr(item, attr, None)
        if isinstance(value, str):
            return value
    memory = getattr(item, "memory", None)  # (memory, score) style wrappers
    return _memory_text(memory) if memory is not None else ""


def _recall(*, user: Any, persona: Any, query: str) -> tuple[list[str], str]:
    """Memories and relationship stage, if the memory app provides them (optional)."""
    memories: list[str] = []
    stage = ""
    try:
        from companion.memory import selectors as memory_selectors
    except ImportError:
        return memories, stage
    try:
        recall = getattr(memory_selectors, "memories_recall", None)
        if recall is not None:
            found = recall(user=user, persona=persona, query=query, k=MEMORY_K) or []
            memories = [t for t in (_memory_text(m).strip() for m in found) if t]
    except Exception:  # memory is an enrichment: never let it block a render
        log.exception("memories_recall failed; extracting without memories")
    try:
        get_rel = getattr(memory_selectors, "relationship_get", None)
        if get_rel is not None:
            rel = get_rel(user=user, persona=persona)
            raw = getattr(rel, "stage", rel) if rel is not None else ""
            stage = str(getattr(raw, "label", raw) or "")
    except Exception:
        log.exception("relationship_get failed; extracting without a relationship stage")
    return memories, stage


def gather_context(message: Message) -> SceneContext:
    conversation = message.conversation
    memories, stage = _recall(user=conversation.owner, persona=conversation.persona, query=message.content)
    return SceneContext(
        message=message,
        persona=conversation.persona,
        user=conversation.owner,
        before=_context_messages(message),
        memories=memories,
        stage=stage,
        user_name=user_display_name(conversation.owner),
    )


# --- characters ----------------------------------------------------------------

_ROLEPLAY_RE = re.compile(r"\*([^*]+)\*")
_SELF_DESCRIPTION_RE = re.compile(
    r"\b(?:I(?:'m| am)\s+(?:wearing|dressed|tall|short|blonde|brunette|bald|\w+-haired)"
    r"|I\s+(?:wear|have)\s+[^.!?]{0,40}\b(?:hair|eyes|beard|glasses|freckles|tattoos?|skin|coat|jacket|dress|shirt)"
    r"|my\s+(?:hair|eyes|beard|glasses|freckles|tattoos?|skin|coat|jacket|dress|shirt|scarf|hat)\b)",
    re.IGNORECASE,
)
_USER_MEMORY_RE = re.compile(
    r"\b(?:user|they)\b[^.!?]{0,60}\b(?:hair|eyes|beard|glasses|freckles|tattoos?|skin|wears?|wearing)\b",
    re.IGNORECASE,
)
_SENTENCE_RE = re.compile(r"[^.!?\n]+[.!?]?")


def persona_character(persona: Any) -> CharacterRef:
    parts = [(persona.appearance or "").strip()]
    if (persona.wardrobe or "").strip():
        parts.append(f"wearing {persona.wardrobe.strip()}")
    triggers = [t.strip() for t in (persona.video_lora_trigger or "").split(",") if t.strip()]
    return CharacterRef(
        name=persona.name[:200],
        description=", ".join(p for p in parts if p)[:2000],
        trigger_words=triggers,
        is_persona=True,
    )


def user_self_description(ctx: SceneContext) -> str:
    """Sentences in which the user described their own looks (their messages, or memories of them)."""
    found: list[str] = []
    for m in ctx.before:
        if m.role != Message.Role.USER:
            continue
        for sentence in _SENTENCE_RE.findall(m.content):
            if _SELF_DESCRIPTION_RE.search(sentence):
                found.append(sentence.strip())
    for memory in ctx.memories:
        for sentence in _SENTENCE_RE.findall(memory):
            if _USER_MEMORY_RE.search(sentence):
                found.append(sentence.strip())
    unique = list(dict.fromkeys(found))
    return " ".join(unique)[:2000]


def user_character(ctx: SceneContext) -> CharacterRef | None:
    """The user in the shot only when they have described themselves; otherwise they are the viewer."""
    description = user_self_description(ctx)
    if not description:
        return None
    return CharacterRef(name=ctx.user_name[:200], description=description, is_persona=False)


# --- fallback ------------------------------------------------------------------


def _clean_action(text: str, persona_name: str) -> str:
    narration = [n.strip() for n in _ROLEPLAY_RE.findall(text) if n.strip()]
    if narration:
        action = "; ".join(narration)
    else:
        sentences = [s.strip() for s in _SENTENCE_RE.findall(text) if s.strip()]
        action = " ".join(sentences[:2]) if sentences else text.strip()
    action = " ".join(action.split())[:MAX_TEXT]
    # Roleplay narration is usually third person without a subject ("smiles and walks toward you").
    if action and action[0].islower():
        action = f"{persona_name} {action}"
    return action or f"{persona_name} looks at the camera"


def fallback_scene(ctx: SceneContext) -> ExtractedScene:
    """A complete scene from lexicons over the story's own words; needs no model."""
    own = ctx.message.content
    story = ctx.story_text
    camera = lexicon.first_match(own, lexicon.CAMERA_CUES) or CameraMove.STATIC
    if lexicon.CLOSE_UP_CUES.search(own):
        framing = Framing.CLOSE_UP
    elif camera in (CameraMove.CRANE_UP, CameraMove.PAN_LEFT, CameraMove.PAN_RIGHT) or lexicon.WIDE_CUES.search(own):
        framing = Framing.WIDE
    else:
        framing = Framing.MEDIUM
    setting = lexicon.find_setting(own) or lexicon.find_setting(story) or _scenario_setting(ctx.persona)
    return ExtractedScene(
        setting=setting or lexicon.DEFAULT_SETTING,
        action=_clean_action(own, ctx.persona.name),
        camera=camera,
        framing=framing,
        lighting=lexicon.first_match(story, lexicon.LIGHTING_CUES) or Lighting.DAYLIGHT,
        mood=lexicon.first_match(story, lexicon.MOOD_CUES) or _stage_mood(ctx.stage),
        duration_s=DEFAULT_DURATION_S,
    )


def _scenario_setting(persona: Any) -> str | None:
    return lexicon.find_setting(persona.scenario or "")


def _stage_mood(stage: str) -> str:
    s = stage.lower()
    if any(w in s for w in ("partner", "romance", "lover", "intimate", "close")):
        return "tender"
    if any(w in s for w in ("friend", "acquaint")):
        return "friendly"
    if any(w in s for w in ("stranger", "new")):
        return "reserved"
    return lexicon.DEFAULT_MOOD


# --- merging model output with the fallback ---------------------------------------

_PLACEHOLDERS = {"", "string", "none", "null", "n/a", "na", "unknown", "tbd", "todo", "...", "-", "setting", "action"}


def _usable_text(value: str | None, *, min_letters: int = 3) -> str | None:
    """``value`` if it reads like words, else None (so the fallback fills it)."""
    if value is None:
        return None
    text = " ".join(value.split())[:MAX_TEXT]
    if text.lower().strip(" .") in _PLACEHOLDERS:
        return None
    letters = sum(c.isalpha() for c in text)
    if letters < min_letters or letters < 0.6 * len(text.replace(" ", "")):
        return None
    # A token repeated over and over is a degenerate sample, not a description.
    words = text.lower().split()
    if len(words) >= 4 and len(set(words)) <= len(words) // 4:
        return None
    return text


def merge_scene(model: ExtractedScene | None, fallback: ExtractedScene, *, own_text: str) -> ExtractedScene:
    """Field by field: the model's valid values, the fallback's for the rest.

    Light words written in the message itself beat the model's choice: "under
    the neon sign" is stronger evidence than a small model's pick. Camera cues
    are inferred from verbs ("boats come in") and so are only a fallback.
    """
    if model is None:
        return fallback
    explicit_light = lexicon.first_match(own_text, lexicon.LIGHTING_CUES)
    return ExtractedScene(
        setting=_usable_text(model.setting) or fallback.setting,
        action=_usable_text(model.action, min_letters=6) or fallback.action,
        camera=model.camera or fallback.camera,
        framing=model.framing or fallback.framing,
        lighting=explicit_light or model.lighting or fallback.lighting,
        mood=(_usable_text(model.mood) or fallback.mood or "")[:60],
        duration_s=model.duration_s or fallback.duration_s,
    )


# --- the model call ------------------------------------------------------------

SYSTEM_PROMPT = (
    "You are a film director's assistant. Turn one moment of a roleplay chat into a single short video shot. "
    "Describe only what is visible. The main character is {name}. Use only places, actions and details present "
    "in the conversation; do not invent other people. Every person on screen is an adult. Answer with JSON "
    "matching the schema: setting (short place phrase), action (what {name} visibly does, one sentence), camera "
    "(one of: {cameras}), framing ({framings}), lighting ({lightings}), mood (one or two words), duration_s (1-10)."
)


def _turns(ctx: SceneContext) -> list[ChatTurn]:
    persona = ctx.persona
    lines = [f"Character: {persona.name}."]
    if persona.appearance:
        lines.append(f"Appearance: {persona.appearance}")
    if persona.wardrobe:
        lines.append(f"Wardrobe: {persona.wardrobe}")
    if persona.style_tags:
        lines.append(f"Visual style: {', '.join(map(str, persona.style_tags))}")
    if persona.scenario:
        lines.append(f"Scenario: {persona.scenario[:500]}")
    if ctx.stage:
        lines.append(f"Relationship stage with the user: {ctx.stage}")
    if ctx.memories:
        lines.append("Things remembered: " + " | ".join(m[:200] for m in ctx.memories))
    if ctx.before:
        lines.append("Recent conversation:")
        for m in ctx.before:
            who = persona.name if m.role == Message.Role.PERSONA else "User"
            lines.append(f"{who}: {m.content[:500]}")
    lines.append(f"\nThe moment to film ({persona.name}): {ctx.message.content[:1500]}")
    system = SYSTEM_PROMPT.format(
        name=persona.name,
        cameras=", ".join(c.value for c in CameraMove),
        framings=", ".join(f.value for f in Framing),
        lightings=", ".join(x.value for x in Lighting),
    )
    return [ChatTurn("system", system), ChatTurn("user", "\n".join(lines))]


async def scene_model_ask(ctx: SceneContext, seed: int) -> ExtractedScene | None:
    """The model's reading of the beat, or None (any failure or timeout: the fallback covers it).

    Runs on the event loop (or through async_to_sync in a thread of its own),
    never on the shared DB thread: ``ctx`` is already gathered.
    """
    from companion.llm.guard import ModelCallForbidden
    from companion.llm.registry import get_backend

    params = SamplingParams(temperature=0.2, top_p=0.9, max_tokens=300, seed=seed)
    try:
        return await get_backend().complete_json(
            _turns(ctx), schema=ExtractedScene, params=params, timeout_s=settings.EVOLVE_EXTRACT_TIMEOUT_S
        )
    except ModelCallForbidden:
        raise
    except Exception as exc:  # any model failure: the fallback guarantees a beat
        log.warning("scene extraction by the model failed (%s); using the deterministic fallback", exc)
        return None


# --- assembling the beat -----------------------------------------------------------


def beat_seed(message_id: int, direction: RenderDirection | None) -> int:
    """Same message + same direction -> same seed (a re-render looks the same)."""
    key = f"{message_id}|{direction.model_dump_json(exclude_none=True) if direction else ''}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big")


def compose_prompt(scene: ExtractedScene, characters: list[CharacterRef], style_tags: list[str]) -> str:
    parts: list[str] = []
    for c in characters:
        parts += c.trigger_words
        if c.description:
            parts.append(f"{c.name}, {c.description}" if c.is_persona else f"with {c.name}: {c.description}")
    parts += [
        scene.action or "",
        f"in {scene.setting}" if scene.setting else "",
        lexicon.LIGHTING_PHRASES[scene.lighting] if scene.lighting else "",
        lexicon.FRAMING_PHRASES[scene.framing] if scene.framing else "",
        lexicon.CAMERA_PHRASES[scene.camera] if scene.camera else "",
        f"{scene.mood} mood" if scene.mood else "",
        *map(str, style_tags or []),
        "cinematic, high detail",
    ]
    return ", ".join(p.strip() for p in parts if p and p.strip())[:4000]


def scene_beat_assemble(
    *, ctx: SceneContext, model_scene: ExtractedScene | None, direction: RenderDirection | None = None
) -> SceneBeat:
    """The beat from the model's reading (or None) checked against the fallback, ``direction`` on top."""
    message = ctx.message
    fallback = fallback_scene(ctx)
    scene = merge_scene(model_scene, fallback, own_text=message.content)

    characters = [persona_character(ctx.persona)]
    if (user := user_character(ctx)) is not None:
        characters.append(user)
    beat = SceneBeat(
        setting=(scene.setting or lexicon.DEFAULT_SETTING)[:1000],
        characters=characters,
        action=(scene.action or "")[:1000],
        camera=scene.camera or CameraMove.STATIC,
        framing=scene.framing or Framing.MEDIUM,
        lighting=scene.lighting or Lighting.DAYLIGHT,
        mood=scene.mood or "",
        duration_s=scene.duration_s or DEFAULT_DURATION_S,
        negative_prompt=lexicon.NEGATIVE_PROMPT,
        seed=beat_seed(message.pk, direction),
    )
    beat = beat.with_direction(direction)
    # The prompt describes the final shot, so it is built after the remix (notes are kept).
    notes = (direction.notes or "").strip() if direction else ""
    prompt = compose_prompt(
        ExtractedScene(**beat.model_dump(include=set(ExtractedScene.model_fields))),
        beat.characters,
        list(ctx.persona.style_tags or []),
    )
    return beat.model_copy(update={"prompt": f"{prompt}, {notes}"[:4000] if notes else prompt})


def scene_extract(*, message: Message, direction: RenderDirection | None = None, use_model: bool = True) -> SceneBeat:
    """The beat for ``message`` (a persona text message), for sync callers.

    Gathers, calls the model, assembles: so never inside a transaction or on the
    shared DB thread (async callers use the three steps themselves, see
    evolve.flow).
    """
    ctx = gather_context(message)
    seed = beat_seed(message.pk, direction)
    model_scene = model_call_sync("scene extraction", scene_model_ask, ctx, seed) if use_model else None
    return scene_beat_assemble(ctx=ctx, model_scene=model_scene, direction=direction)


def beat_caption(beat: SceneBeat) -> str:
    """A one-line human caption for the clip message."""
    action = beat.action.strip().rstrip(".")
    return f"{action}, {beat.setting}." if beat.setting else f"{action}."
