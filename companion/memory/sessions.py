"""The session layer: one summary item per session, for "what have we talked about" and multi-hop questions.

A session is a run of turns without a gap of ``MEMORY_SESSION_GAP_HOURS``
(default 4 h) and at most ``MEMORY_SESSION_MAX_TURNS`` (default 60) turns.
Its item (``layer="session"``, ``message`` = first turn, ``created_at`` …
``ended_at`` = the turns' dates) says who talked when, what about (the
session's most frequent topic words) and its most informative statements
with names; its sources are the turns those statements come from. The model
writes it instead when it answers within ``MEMORY_EXTRACT_TIMEOUT_S`` (then
every turn of the session is a source); otherwise, or when the model is off
(imports, ``MEMORY_LLM_EXTRACTION=False``), it is extractive.

Same shape as every memory write: read the turns, call the model with no
transaction open, embed, then one short write transaction that replaces the
session's old item. The newest session is summarised once it has
``MIN_TURNS`` turns and again whenever it grew; older ones only when a turn
in them changed (an edit drops the summary, see ``services.memory_forget_source``).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from pydantic import BaseModel, Field

from companion.chat.models import Conversation, Message
from companion.chat.scene import witnessed
from companion.llm.base import ChatTurn, SamplingParams
from companion.llm.guard import ModelCallForbidden, model_call_sync
from companion.llm.registry import get_backend
from companion.memory import dates, embeddings, semantic
from companion.memory.indexing import SERVED_BY_SOURCE, TEXT_TURN, Names
from companion.memory.models import Memory
from companion.memory.recall_index import pair_invalidate

log = logging.getLogger(__name__)

MIN_TURNS = 4
REFRESH_TURNS = 10  # the open session's summary is written again once it grew by this many turns
MAX_LINES = 6
MAX_LINE_CHARS = 220
TOPIC_WORDS = 8
# Summaries run 30-170 tokens: small encoder batches pad each to its neighbours' length instead of the
# longest one's (an import's 30 summaries: 1.68 -> 1.22 s of CPU against batches of 64; same vectors
# up to 1e-7).
EMBED_BATCH = 8


def gap_hours() -> float:
    return settings.MEMORY_SESSION_GAP_HOURS


def max_turns() -> int:
    return settings.MEMORY_SESSION_MAX_TURNS


@dataclass
class Session:
    turns: list[Message] = field(default_factory=list)

    @property
    def first(self) -> Message:
        return self.turns[0]

    @property
    def last(self) -> Message:
        return self.turns[-1]


def sessions_of(turns: list[Message]) -> list[Session]:
    """Split turns (oldest first) at gaps of ``gap_hours`` or every ``max_turns``."""
    out: list[Session] = []
    gap = timedelta(hours=gap_hours())
    for message in turns:
        if not out or len(out[-1].turns) >= max_turns() or message.created_at - out[-1].last.created_at >= gap:
            out.append(Session())
        out[-1].turns.append(message)
    return out


class SessionSummarySchema(BaseModel):
    text: str = Field(min_length=20, max_length=1200)


def _topics(lines: list[str]) -> list[str]:
    counts: Counter[str] = Counter()
    for line in lines:
        for w in semantic.content_words(line):
            if w not in semantic.PHATIC and not w.isdigit() and len(w) > 3:
                counts[w] += 1
    return [w for w, c in counts.most_common(TOPIC_WORDS) if c >= 1]


def _sentence_score(sentence: str) -> float:
    words = semantic.content_words(sentence)
    if sentence.rstrip().endswith("?") or len(words) < 3 or all(w in semantic.PHATIC for w in words):
        return 0.0
    score = min(len(words), 15) / 15
    score += 0.4 * bool(re.search(r"\b(i|my|we|our|i'm|i've)\b", sentence, re.I))
    score += 0.3 * bool(re.search(r"(?<!^)\b[A-Z][a-z]{2,}", sentence))
    score += 0.3 * bool(dates.mentions_time(sentence))
    return score


def extractive(session: Session, names: Names) -> tuple[str, list[Message]]:
    """(text, the turns it quotes)."""
    scored: list[tuple[float, int, str, Message]] = []
    for i, message in enumerate(session.turns):
        names.learn(message)
        speaker, addressee = names.speaker(message), names.addressee(message)
        ctx = semantic.Context(speaker=speaker, addressee=addressee)
        best = max(semantic.sentences(message.content), key=_sentence_score, default="")
        if best and _sentence_score(best) > 0:
            line = dates.annotate(semantic.rewrite(best, ctx), anchor=message.created_at)[0]
            if speaker not in line:
                line = f"{speaker}: {line}"
            scored.append((_sentence_score(best), i, line[:MAX_LINE_CHARS], message))
    chosen = sorted(sorted(scored, key=lambda t: -t[0])[:MAX_LINES], key=lambda t: t[1])
    return _header(session, names, [m.content for m in session.turns]) + " ".join(
        line.rstrip(".") + "." for _, _, line, _ in chosen), [m for *_, m in chosen]


def _header(session: Session, names: Names, bodies: list[str]) -> str:
    start, end = dates.date_label(session.first.created_at), dates.date_label(session.last.created_at)
    when = start if start == end else f"{start} to {end}"
    people = sorted({names.speaker(m) for m in session.turns})
    topics = _topics(bodies)
    head = f"Session of {when}: {' and '.join(people)}, {len(session.turns)} turns."
    if topics:
        head += f" Talked about: {', '.join(topics)}."
    return head + " "


def llm_written(session: Session, names: Names) -> str | None:
    """The model's summary, or None when it is off, too slow or its output is unusable (never in a transaction)."""
    lines = []
    for m in session.turns:
        names.learn(m)
        lines.append(f"{names.speaker(m)} ({dates.date_label(m.created_at)}): {m.content.strip()[:400]}")
    turns = [
        ChatTurn("system", "Summarise this chat session in 3-5 sentences for long-term memory: who said what, "
                           "facts, plans, promises, events with their dates. Use names, never pronouns."),
        ChatTurn("user", "\n".join(lines)[-6000:]),
    ]
    try:
        result = model_call_sync(
            "session summary", get_backend().complete_json, turns, schema=SessionSummarySchema,
            params=SamplingParams(temperature=0.0, max_tokens=300), timeout_s=settings.MEMORY_EXTRACT_TIMEOUT_S,
        )
    except ModelCallForbidden:
        raise
    except Exception as exc:
        log.info("session summary: model output unusable (%s); extractive", exc)
        return None
    return result.text.strip() or None


@dataclass
class SessionDraft:
    session: Session
    text: str
    sources: list[Message]
    method: str
    vector: Any = None


def sessions_due(*, conversation: Conversation, include_open: bool = True) -> list[Session]:
    """Sessions whose summary is missing or out of date (the newest one only when ``include_open``)."""
    # A branch's copied turns are summarised in their own conversation's sessions already.
    # Group scenes: sessions are the conversation's own persona's, so only the turns it witnessed.
    rows = conversation.messages.filter(TEXT_TURN).exclude(content="").exclude(SERVED_BY_SOURCE).select_related(
        "persona").order_by("seq")
    turns = [m for m in rows if witnessed(m, conversation.persona_id, conversation.persona_id)]
    sessions = sessions_of(turns)
    if not sessions:
        return []
    existing = {
        m.message_id: m for m in Memory.objects.filter(conversation=conversation, layer=Memory.Layer.SESSION)
    }
    due = []
    for i, session in enumerate(sessions):
        is_last = i == len(sessions) - 1
        if len(session.turns) < MIN_TURNS or (is_last and not include_open and len(session.turns) < max_turns()):
            continue
        item = existing.get(session.first.pk)
        if item is None:
            due.append(session)
        elif item.ended_at != session.last.created_at:
            newer = sum(1 for m in session.turns if m.created_at > item.ended_at)
            if not is_last or newer >= REFRESH_TURNS or not include_open:
                due.append(session)
    return due


def sessions_update(*, conversation: Conversation, use_llm: bool = False, include_open: bool = True,
                    names: Names | None = None) -> list[Memory]:
    """Write the summaries that are due; returns the items written."""
    due = sessions_due(conversation=conversation, include_open=include_open)
    if not due:
        return []
    names = names or Names.for_conversation(conversation)
    drafts: list[SessionDraft] = []
    for session in due:
        text = llm_written(session, names) if use_llm else None
        if text:
            header = _header(session, names, [m.content for m in session.turns])
            drafts.append(SessionDraft(session, header + text, list(session.turns), "llm"))
        else:
            body, sources = extractive(session, names)
            drafts.append(SessionDraft(session, body, sources or [session.first], "extractive"))
    vectors = embeddings.embed([d.text for d in drafts], batch_size=EMBED_BATCH)
    for draft, vector in zip(drafts, vectors, strict=True):
        draft.vector = vector
    return _write(conversation, drafts)


def _write(conversation: Conversation, drafts: list[SessionDraft]) -> list[Memory]:
    user, persona = conversation.owner, conversation.persona
    written: list[Memory] = []
    with transaction.atomic():
        alive = set(conversation.messages.filter(pk__in=[d.session.first.pk for d in drafts], deleted=False,
                                                 is_active=True).values_list("pk", flat=True))
        Memory.objects.filter(conversation=conversation, layer=Memory.Layer.SESSION, edited_by_user=False,
                              message_id__in=[d.session.first.pk for d in drafts]).delete()
        for d in drafts:
            if d.session.first.pk not in alive or Memory.objects.filter(
                    layer=Memory.Layer.SESSION, message_id=d.session.first.pk).exists():
                continue  # turn gone meanwhile, or a summary the user edited by hand
            item = Memory.objects.create(
                user=user, persona=persona, conversation=conversation, layer=Memory.Layer.SESSION,
                kind=Memory.Kind.SUMMARY, text=d.text, importance=0.5, message=d.session.first,
                created_at=d.session.first.created_at, ended_at=d.session.last.created_at,
                slot=f"session:{d.method}", embedding=embeddings.to_bytes(d.vector),
            )
            item.source_messages.add(*d.sources)
            written.append(item)
    if written:
        pair_invalidate(user.pk, persona.pk)
    return written
