"""Gathering what a scene is read from (the only phase that touches the database).

``gather_context(message)`` reads, once: the message, the few messages before
it, the beats of earlier clips in the conversation (the setting so far), the
persona's scenario and the lorebook entries the recent text fires (the same
activation as the chat prompt, companion.chat.lore; card macros resolved),
memories and the relationship stage. Everything later (``scene_model_ask``,
``beat_assemble``) reads only this object, so they can run on the event loop,
where the ORM may not be used.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from companion.accounts.selectors import user_display_name
from companion.chat.lore import scene_lore
from companion.chat.models import Message
from companion.chat.scene import member_personas, persona_view, witnessed
from companion.memory import selectors as memory_selectors
from rendering.models import JobKind, RenderJob

log = logging.getLogger(__name__)

CONTEXT_BEFORE = 6  # turns before the chosen message
MEMORY_K = 5
BEATS_BACK = 40  # earlier persona messages searched for clips (the setting so far)
LORE_MAX = 4
_MACRO_RE = re.compile(r"\{\{\s*(char|user|bot)\s*\}\}|<(BOT|USER|CHAR)>", re.IGNORECASE)


@dataclass
class SceneContext:
    """Everything the scene is read from, gathered once (plain values after this point)."""

    message: Message
    persona: Any
    user: Any
    before: list[Message] = field(default_factory=list)
    memories: list[str] = field(default_factory=list)
    stage: str = ""
    user_name: str = ""
    scenario: str = ""
    lore: list[str] = field(default_factory=list)
    previous_beats: list[dict[str, Any]] = field(default_factory=list)  # newest first
    # A group scene: the other personas present when the message was written (the speaker is ``persona``).
    cast: list[Any] = field(default_factory=list)

    @property
    def persona_name(self) -> str:
        return self.persona.name

    @property
    def story_text(self) -> str:
        """The chosen message first, then older turns (newest first): cues are searched in this order."""
        return "\n".join([self.message.content, *(m.content for m in reversed(self.before))])

    @property
    def background_text(self) -> str:
        """Everything known besides the conversation itself: scenario, lore, memories."""
        return "\n".join([self.scenario, *self.lore, *self.memories])


def resolve_macros(text: str, *, persona_name: str, user_name: str) -> str:
    """Card macros ({{char}}, {{user}}, <BOT>, <USER>) as the names they stand for."""

    def repl(m: re.Match[str]) -> str:
        who = (m.group(1) or m.group(2) or "").lower()
        return user_name if who == "user" else persona_name

    return _MACRO_RE.sub(repl, text or "")


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
    memory = getattr(item, "memory", None)  # RecalledMemory(memory, score, parts)
    return _memory_text(memory) if memory is not None else ""


def _recall(*, user: Any, persona: Any, query: str) -> tuple[list[str], str]:
    """Memories and the relationship stage; either failing only drops that enrichment."""
    memories: list[str] = []
    stage = ""
    try:
        found = memory_selectors.memories_recall(user=user, persona=persona, query=query, k=MEMORY_K) or []
        memories = [t for t in (_memory_text(m).strip() for m in found) if t]
    except Exception:  # memory is an enrichment: never let it block a render
        log.exception("memories_recall failed; reading the scene without memories")
    try:
        rel = memory_selectors.relationship_get(user=user, persona=persona)
        raw = getattr(rel, "stage", rel) if rel is not None else ""
        stage = str(getattr(raw, "label", raw) or "")
    except Exception:
        log.exception("relationship_get failed; reading the scene without a relationship stage")
    return memories, stage


def _previous_beats(message: Message) -> list[dict[str, Any]]:
    """Beats of clips made from earlier messages of this conversation, newest message first."""
    earlier = list(
        message.conversation.messages.filter(seq__lt=message.seq, role=Message.Role.PERSONA, kind=Message.Kind.TEXT)
        .order_by("-seq")
        .values_list("pk", "seq")[:BEATS_BACK]
    )
    if not earlier:
        return []
    seq_of = dict(earlier)
    jobs = RenderJob.objects.filter(kind=JobKind.CLIP, chat_clip__message__in=list(seq_of)).order_by("-queued_at")
    beats: dict[int, dict[str, Any]] = {}
    for message_id, beat in jobs.values_list("chat_clip__message_id", "beat"):
        if message_id in beats or not isinstance(beat, dict):
            continue  # the newest clip of each message
        beats[message_id] = {key: beat.get(key) for key in ("setting", "time_of_day", "weather", "lighting")}
        beats[message_id]["seq"] = seq_of[message_id]
    return sorted(beats.values(), key=lambda b: -b["seq"])


def gather_context(message: Message) -> SceneContext:
    """Everything the scene is read from (DB reads only: no model, no writes)."""
    conversation = message.conversation
    # A group scene's reply is its writer's; the others present then share the shot (scene.witnessed).
    persona, owner = message.persona or conversation.persona, conversation.owner
    cast = [p for p in member_personas(conversation) if p.pk != persona.pk
            and witnessed(message, p.pk, conversation.persona_id)]
    user_name = user_display_name(owner)
    before = _context_messages(message)
    memories, stage = _recall(user=owner, persona=persona, query=message.content)
    recent = [(message.pk, message.content), *((m.pk, m.content) for m in reversed(before))]  # newest first

    def macros(text: str) -> str:
        return resolve_macros(text, persona_name=persona.name, user_name=user_name)

    return SceneContext(
        message=message,
        persona=persona,
        user=owner,
        before=before,
        memories=[macros(m) for m in memories],
        stage=stage,
        user_name=user_name,
        scenario=macros(persona.scenario or ""),
        lore=[macros(e) for e in scene_lore(conversation=persona_view(conversation, persona), messages=recent,
                                            limit=LORE_MAX)],
        previous_beats=_previous_beats(message),
        cast=cast,
    )
