"""Prompt assembly: the one place that decides what the model sees.

Layout of the turns sent to the backend::

    system:     lorebook entries placed before the character, persona card
                (ending with the reply guide), lorebook entries placed after
                it, then every registered section, by priority
    user/assistant ...  recent history, newest kept, oldest dropped first;
                lorebook entries placed "at depth N" as a system turn N
                messages from the end
    system:     post-history instructions (when the persona has them)

Sections are ordered by ``priority`` (lower first). The persona card is
priority 0, lorebook entries before it -10 and after it 10 (companion.chat.lore;
which fired, and why, is in ``compact()["lore"]`` for the prompt-debug view);
the agreed slots for the other apps are relationship 20, memories 30, summary
40, so the prompt reads lore, persona card, lore, relationship, memories,
summary, recent turns. Apps plug in with
``register_prompt_section(provider)``; a provider is
``fn(*, conversation, query_text) -> list[PromptSection]`` where
``query_text`` is the newest user message (what memory should search for).

The reply guide (``settings.CHAT_REPLY_GUIDE``) closes the persona card: whom
the persona talks with and what to call them, one to three short sentences,
never the user's lines. With it the packaged 135M model recalled planted
facts a little more often (bench/chat_quality.py; numbers and sample sizes in
bench/README.md); memories moved before the card or into a system turn after
the history did no better, and a guide placed after the history was echoed
back verbatim, so it stays in the first system turn.

Budget (``budget_tokens``, counted with ``backend.count_tokens``): the persona
card, post-history instructions and the newest history turn are always kept;
fired lorebook entries share ``CHAT_LORE_TOKEN_BUDGET`` (higher entry priority
kept first) and then count like any other section;
other sections are dropped from the highest priority number down if they
alone overflow the budget; history fills what is left, newest first.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, NamedTuple

from django.conf import settings
from django.db.models import F, Q
from django.db.models.functions import Coalesce

from companion.accounts.selectors import user_display_name
from companion.chat import scene
from companion.chat.lore import lore_for_messages
from companion.chat.models import Conversation, Message
from companion.llm.base import ChatBackend, ChatTurn
from personas.lorebook import LoreResult

logger = logging.getLogger(__name__)

PERSONA_CARD_PRIORITY = 0
SCENE_PRIORITY = 5  # group scenes: who else is here, right after the card
LORE_BEFORE_PRIORITY, LORE_AFTER_PRIORITY = -10, 10  # either side of the persona card
TURN_OVERHEAD_TOKENS = 4  # role markers a chat template adds around each turn
COMPACT_TEXT_CHARS = 6000  # how much of the system text extra["prompt"] keeps


@dataclass(frozen=True)
class PromptSection:
    name: str
    text: str
    priority: int


SectionProvider = Callable[..., list[PromptSection]]
_providers: list[SectionProvider] = []


def register_prompt_section(provider: SectionProvider) -> SectionProvider:
    """Add a section provider (idempotent; usable as a decorator)."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def unregister_prompt_section(provider: SectionProvider) -> None:
    if provider in _providers:
        _providers.remove(provider)


# CPU work a provider needs for a query (memory embeds it), done before the build: the build runs
# on the shared DB thread, where a model call (even a 20 ms embedding, or the embedder's first
# 6 s load) would hold up every socket. A warm-up fills the provider's own cache for the query.
QueryWarmup = Callable[[str], object]
_warmups: list[QueryWarmup] = []


def register_prompt_warmup(warmup: QueryWarmup) -> QueryWarmup:
    """Add ``warmup(query_text)``, run off the DB thread before each build (idempotent)."""
    if warmup not in _warmups:
        _warmups.append(warmup)
    return warmup


def prompt_warm(query_text: str) -> None:
    """Run the registered warm-ups for ``query_text`` (call it in a worker thread, before prompt_build)."""
    if query_text.strip():
        for warmup in list(_warmups):
            warmup(query_text)


@dataclass
class SectionRecord:
    name: str
    priority: int
    tokens: int
    included: bool
    text: str


class HistoryTurn(NamedTuple):
    """A history turn as assembly reads it (a row, not a Message: see prompt_build)."""

    pk: int
    role: str
    content: str
    persona_id: int | None
    witnesses: list[int] | None
    speaker_name: str | None


@dataclass
class PromptBuild:
    """The assembled prompt and how it was put together (for inspection)."""

    turns: list[ChatTurn]
    sections: list[SectionRecord]
    budget_tokens: int
    system_tokens: int = 0
    history_tokens: int = 0
    post_history_tokens: int = 0
    history_message_ids: list[int] = field(default_factory=list)
    history_dropped: int = 0
    query_text: str = ""
    user_name: str = ""
    lore_depth_tokens: int = 0  # entries inserted into the history ("at depth")
    lore: list[dict[str, Any]] = field(default_factory=list)  # every fired entry: why, where, kept or not
    others: list[str] = field(default_factory=list)  # a group scene: the other members' names (stop strings)

    @property
    def total_tokens(self) -> int:
        return self.system_tokens + self.history_tokens + self.post_history_tokens + self.lore_depth_tokens

    def compact(self) -> dict[str, Any]:
        """A small JSON copy for ``Message.extra["prompt"]`` (history is referenced by id)."""
        system = self.turns[0].content if self.turns and self.turns[0].role == "system" else ""
        return {
            "system": system[:COMPACT_TEXT_CHARS],
            "sections": [
                {"name": s.name, "priority": s.priority, "tokens": s.tokens, "included": s.included}
                for s in self.sections
            ],
            "history_message_ids": self.history_message_ids,
            "lore": self.lore,
            "history_dropped": self.history_dropped,
            "post_history": self.turns[-1].content if self.post_history_tokens else "",
            "tokens": {
                "system": self.system_tokens,
                "history": self.history_tokens,
                "post_history": self.post_history_tokens,
                "lore_at_depth": self.lore_depth_tokens,
                "total": self.total_tokens,
                "budget": self.budget_tokens,
            },
        }


# --- macros and the persona card --------------------------------------------------

_CHAR = re.compile(r"\{\{\s*char\s*\}\}|<BOT>", re.IGNORECASE)
_USER = re.compile(r"\{\{\s*user\s*\}\}|<USER>", re.IGNORECASE)


def apply_macros(text: str, *, char: str, user: str) -> str:
    """Character-card macros: {{char}} → persona name, {{user}} → the user's name."""
    text = _CHAR.sub(lambda _: char, text)
    return _USER.sub(lambda _: user, text)


def persona_card_text(persona: Any, *, user_name: str) -> str:
    parts = [
        (persona.system_prompt or "").strip()
        or "You are {{char}}, talking with {{user}}. Stay in character and reply as {{char}}.",
        (persona.description or "").strip(),
    ]
    if (persona.personality or "").strip():
        parts.append(f"{{{{char}}}}'s personality: {persona.personality.strip()}")
    if (persona.scenario or "").strip():
        parts.append(f"Scenario: {persona.scenario.strip()}")
    if (persona.example_dialogue or "").strip():
        examples = re.sub(r"^\s*<START>\s*$", "---", persona.example_dialogue.strip(), flags=re.MULTILINE)
        parts.append(f"Example dialogue:\n{examples}")
    parts.append((settings.CHAT_REPLY_GUIDE or "").strip())
    text = "\n\n".join(p for p in parts if p)
    return apply_macros(text, char=persona.name, user=user_name)


# --- group scenes -----------------------------------------------------------------


def scene_text(conversation: Conversation, persona: Any, user_name: str) -> str:
    """Who else is in the scene, and that the reply is this persona's alone."""
    others = [p.name for p in scene.member_personas(conversation) if p.pk != persona.pk]
    if not others:  # the others have left: their lines stay named in the history, no one else is here
        return ""
    listed = ", ".join(others)
    return (f"This is a group scene: {user_name} is here with {persona.name} and {listed}. "
            f"Lines from the others are prefixed with their names. Reply only as {persona.name}, "
            f"in your own voice; never write lines for {user_name} or {listed}.")


def scene_turn_text(message: HistoryTurn, *, user_name: str, primary_name: str, own: bool, group: bool) -> str:
    """A history turn as a member reads it: in a group, every line but its own carries the speaker's name."""
    if not group or own:
        return message.content
    if message.role == Message.Role.USER:
        return f"{user_name}: {message.content}"
    return f"{message.speaker_name or primary_name}: {message.content}"  # no persona: a reply from before scenes


# --- assembly ---------------------------------------------------------------------


def _history_queryset(conversation: Conversation, before_seq: int | None):
    qs = conversation.messages.filter(
        deleted=False,
        is_active=True,
        kind=Message.Kind.TEXT,
        role__in=[Message.Role.USER, Message.Role.PERSONA],
        status__in=[Message.Status.COMPLETE, Message.Status.INTERRUPTED],
    ).exclude(content="")
    # A regenerated reply has a new seq but sits at its first version's place.
    qs = qs.annotate(position=Coalesce(F("parent__seq"), F("seq")))
    if before_seq is not None:
        qs = qs.filter(Q(position__lt=before_seq))
    return qs.order_by("-position")


def _provider_sections(conversation: Conversation, query_text: str) -> list[PromptSection]:
    sections: list[PromptSection] = []
    for provider in list(_providers):
        try:
            sections.extend(provider(conversation=conversation, query_text=query_text) or [])
        except Exception:  # a broken plug-in must not take the chat down
            logger.exception("prompt section provider %r failed", provider)
    return [s for s in sections if s.text.strip()]


def _lore_record(lore: LoreResult, *, dropped: set[str]) -> list[dict[str, Any]]:
    """Every fired entry for the debug view, marked not included when its section gave way."""
    out = []
    for fired in lore.fired:
        item = fired.describe()
        if item["included"] and f"lore_{fired.entry.position}" in dropped:
            item.update(included=False, dropped="prompt budget")
        out.append(item)
    return out


def prompt_build(
    *,
    conversation: Conversation,
    backend: ChatBackend,
    budget_tokens: int,
    before_seq: int | None = None,
    persona: Any = None,
) -> PromptBuild:
    """Assemble the prompt for the next persona reply.

    ``before_seq``: only history placed before this position (the slot of the
    reply being written; default: the whole conversation).
    ``persona``: in a group scene, the member who answers (default: the conversation's
    persona). It gets its own card, lorebook and memory, and only the turns it witnessed,
    the others' lines named (scene_turn_text).
    """
    primary_id, primary_name = conversation.persona_id, scene.primary_persona(conversation).name
    group = scene.is_group(conversation)
    conversation = scene.persona_view(conversation, persona)
    persona = conversation.persona
    user_name = user_display_name(conversation.owner)
    count = backend.count_tokens

    # Only what assembly reads, as plain tuples with the speaker's name, and no more turns than could ever fit
    # (each costs at least TURN_OVERHEAD_TOKENS + 1): building a Message and a Persona object for every turn
    # of a long conversation was most of a build's time (bench/lorebook.py).
    rows = _history_queryset(conversation, before_seq).annotate(speaker_name=F("persona__name"))
    turns_read = (HistoryTurn(*row) for row in rows.values_list(*HistoryTurn._fields).iterator(chunk_size=100))
    window = budget_tokens // (TURN_OVERHEAD_TOKENS + 1) + 1
    history = list(islice((m for m in turns_read if scene.witnessed(m, persona.pk, primary_id)), window))
    # A scene whose other members have all left still names their lines in the history.
    group = group or any(m.persona_id and m.persona_id != persona.pk for m in history if m.role == Message.Role.PERSONA)
    query_text = next((m.content for m in history if m.role == Message.Role.USER), "")

    def macros(text: str) -> str:
        return apply_macros(text, char=persona.name, user=user_name)

    # Lorebooks scan the newest messages (their own scan_depth decides how many).
    lore = lore_for_messages(
        conversation=conversation, messages=[(m.pk, m.content) for m in history], count_tokens=count
    )
    card = persona_card_text(persona, user_name=user_name)
    candidates = [PromptSection("persona_card", card, PERSONA_CARD_PRIORITY)]
    candidates.append(PromptSection("lore_before_char", macros(lore.text("before_char")), LORE_BEFORE_PRIORITY))
    candidates.append(PromptSection("lore_after_char", macros(lore.text("after_char")), LORE_AFTER_PRIORITY))
    if group:
        candidates.append(PromptSection("scene", scene_text(conversation, persona, user_name), SCENE_PRIORITY))
    candidates = [c for c in candidates if c.text.strip()]
    candidates += _provider_sections(conversation, query_text)
    candidates.sort(key=lambda s: s.priority)  # stable: registration order breaks ties
    records = [SectionRecord(s.name, s.priority, count(s.text), True, s.text) for s in candidates]

    post_text = apply_macros((persona.post_history_instructions or "").strip(), char=persona.name, user=user_name)
    post_tokens = count(post_text) + TURN_OVERHEAD_TOKENS if post_text else 0

    def system_cost() -> int:
        return sum(r.tokens for r in records if r.included) + TURN_OVERHEAD_TOKENS

    # Optional sections give way (highest priority number first) when they
    # alone overflow the budget; the persona card always stays.
    optional = [r for r in records if r.name != "persona_card"]
    for record in sorted(optional, key=lambda r: -r.priority):
        if system_cost() + post_tokens <= budget_tokens:
            break
        record.included = False

    system_text = "\n\n".join(r.text for r in records if r.included)
    build = PromptBuild(
        turns=[],
        sections=records,
        budget_tokens=budget_tokens,
        system_tokens=system_cost(),
        post_history_tokens=post_tokens,
        query_text=query_text,
        user_name=user_name,
        lore=_lore_record(lore, dropped={r.name for r in records if not r.included}),
        others=[p.name for p in scene.member_personas(conversation) if p.pk != persona.pk] if group else [],
    )
    at_depth = {d: macros(text) for d, text in lore.at_depth().items()}
    build.lore_depth_tokens = sum(count(t) + TURN_OVERHEAD_TOKENS for t in at_depth.values())

    remaining = budget_tokens - build.system_tokens - post_tokens - build.lore_depth_tokens
    kept: list[HistoryTurn] = []
    for i, message in enumerate(history):  # newest first
        cost = count(message.content) + TURN_OVERHEAD_TOKENS
        if kept and cost > remaining:
            build.history_dropped = len(history) - i
            if len(history) == window:  # and the turns past the window (in a scene: unwitnessed ones too)
                build.history_dropped += max(0, rows.count() - window)
            break
        kept.append(message)  # the newest turn is kept even if it alone overflows
        remaining -= cost
        build.history_tokens += cost
    kept.reverse()
    build.history_message_ids = [m.pk for m in kept]

    # depth d: a system turn before the last d messages (deeper than the history: at its start)
    inserts: dict[int, list[str]] = {}
    for d, text in sorted(at_depth.items(), reverse=True):  # deepest first: it reads earliest
        inserts.setdefault(max(0, len(kept) - d), []).append(text)
    turns = [ChatTurn("system", system_text)]
    for i, message in enumerate([*kept, None]):
        if i in inserts:
            text = "\n".join(inserts[i])
            if turns[-1].role == "system":  # never two system turns in a row
                turns[-1] = ChatTurn("system", f"{turns[-1].content}\n\n{text}")
            else:
                turns.append(ChatTurn("system", text))
        if message is None:
            break
        own = message.role == Message.Role.PERSONA and (message.persona_id or primary_id) == persona.pk
        role = "assistant" if own else "user"  # in a scene the others' lines reach it as what it hears
        content = scene_turn_text(message, user_name=user_name, primary_name=primary_name, own=own, group=group)
        if turns[-1].role == role:  # some chat templates require alternation
            turns[-1] = ChatTurn(role, f"{turns[-1].content}\n\n{content}")
        else:
            turns.append(ChatTurn(role, content))
    if post_text:
        if turns[-1].role == "system" and len(turns) > 1:  # an entry at depth 0 sits right here
            turns[-1] = ChatTurn("system", f"{turns[-1].content}\n\n{post_text}")
        else:
            turns.append(ChatTurn("system", post_text))
    build.turns = turns
    return build
