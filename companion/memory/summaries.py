"""Rolling conversation summaries: older turns are folded in, not dropped.

When the visible history no longer fits the recent-turns share of the prompt
budget, every turn older than the window that still fits (and not yet
covered) is folded, together with the previous summary, into a new summary
that covers seq ``seq_from``..``seq_to``. The model writes it when it can
(schema-constrained); otherwise an extractive fallback keeps the most
informative sentences, in order, within ``MAX_SUMMARY_CHARS``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.conf import settings
from pydantic import BaseModel, Field

from companion.accounts.selectors import user_display_name
from companion.chat.models import Conversation, Message
from companion.chat.scene import witnessed
from companion.llm.base import ChatTurn, SamplingParams
from companion.llm.guard import ModelCallForbidden, model_call_sync
from companion.llm.registry import get_backend
from companion.memory.extraction import extract_rules, sentences
from companion.memory.models import ConversationSummary
from companion.memory.selectors import summary_latest

log = logging.getLogger(__name__)

RECENT_SHARE = 0.5  # the share of the prompt budget recent turns may use before folding starts
MIN_FOLD_MESSAGES = 4  # do not write a new summary for one or two turns
MAX_SUMMARY_CHARS = 1500


class SummarySchema(BaseModel):
    text: str = Field(min_length=20, max_length=MAX_SUMMARY_CHARS)


def _history(conversation: Conversation) -> list[Message]:
    """The turns the conversation's own persona witnessed (group scenes: companion.chat.scene); the
    prompt gives the summary to another member only when it witnessed all of them too."""
    rows = conversation.messages.filter(
        deleted=False, is_active=True, kind=Message.Kind.TEXT,
        role__in=[Message.Role.USER, Message.Role.PERSONA],
        status__in=[Message.Status.COMPLETE, Message.Status.INTERRUPTED],
    ).exclude(content="").select_related("persona").order_by("seq")
    return [m for m in rows if witnessed(m, conversation.persona_id, conversation.persona_id)]


def _speaker(message: Message, persona_name: str) -> str:
    """A reply's author: another scene member's own name, else the conversation's persona."""
    return message.persona.name if message.persona_id and message.persona.name else persona_name


def messages_to_fold(*, conversation: Conversation, budget_tokens: int | None = None) -> list[Message]:
    """The turns the next summary should fold in (empty when none is due)."""
    budget = budget_tokens or settings.CHAT_PROMPT_TOKEN_BUDGET
    count = get_backend().count_tokens
    history = _history(conversation)
    window, used = 0, 0
    for message in reversed(history):
        used += count(message.content) + 4
        if used > budget * RECENT_SHARE:
            break
        window += 1
    older = history[: len(history) - window]
    latest = summary_latest(conversation=conversation)
    if latest is not None:
        older = [m for m in older if m.seq > latest.seq_to]
    return older if len(older) >= MIN_FOLD_MESSAGES else []


_INFORMATIVE = re.compile(r"\b(i|i'm|my|we|our|name|love|like|hate|work|live|today|yesterday|promise|remember)\b", re.I)


def _line_score(line: str) -> float:
    body = line.split(":", 1)[-1]
    score = min(len(body), 200) / 200
    score += 0.6 if extract_rules(body) else 0.0
    score += 0.3 if _INFORMATIVE.search(body) else 0.0
    score += 0.2 if re.search(r"\b[A-Z][a-z]{2,}\b", body[1:]) else 0.0
    return score - (0.5 if body.strip().endswith("?") else 0.0)


def extractive_summary(*, previous: str, messages: list[Message], user_name: str, persona_name: str) -> str:
    """Most informative sentence(s) of each turn, oldest first, trimmed to fit."""
    lines = [ln for ln in previous.splitlines() if ln.strip()]
    for message in messages:
        who = user_name if message.role == Message.Role.USER else _speaker(message, persona_name)
        best = sorted(sentences(message.content), key=_line_score, reverse=True)[:1]
        lines += [f"- {who}: {s[:240]}" for s in best]
    # Drop the least informative lines until it fits; order stays chronological.
    ranked = sorted(range(len(lines)), key=lambda i: _line_score(lines[i]))
    dropped: set[int] = set()
    total = sum(len(ln) + 1 for ln in lines)
    for i in ranked:
        if total <= MAX_SUMMARY_CHARS:
            break
        dropped.add(i)
        total -= len(lines[i]) + 1
    return "\n".join(ln for i, ln in enumerate(lines) if i not in dropped)


def llm_summary(*, previous: str, messages: list[Message], user_name: str, persona_name: str) -> str | None:
    transcript = "\n".join(
        f"{user_name if m.role == Message.Role.USER else _speaker(m, persona_name)}: {m.content.strip()[:600]}"
        for m in messages
    )
    turns = [
        ChatTurn("system", "Summarise the conversation so far in a few short sentences for the character's "
                           "memory: facts about the user, shared events, promises, the mood. Keep names."),
        ChatTurn("user", f"Previous summary:\n{previous or '(none)'}\n\nNew turns:\n{transcript}"),
    ]
    try:
        result = model_call_sync(
            "summary", get_backend().complete_json,
            turns, schema=SummarySchema, params=SamplingParams(temperature=0.0, max_tokens=400, background=True),
            timeout_s=settings.MEMORY_EXTRACT_TIMEOUT_S,
        )
    except ModelCallForbidden:
        raise
    except Exception as exc:
        log.info("summary: model output unusable (%s); extractive fallback", exc)
        return None
    return result.text.strip() or None


def summary_update(*, conversation: Conversation, use_llm: bool = True, budget_tokens: int | None = None
                   ) -> ConversationSummary | None:
    """Fold what no longer fits into a new rolling summary; None when nothing is due."""

    fold = messages_to_fold(conversation=conversation, budget_tokens=budget_tokens)
    if not fold:
        return None
    latest = summary_latest(conversation=conversation)
    previous = latest.text if latest else ""
    names: dict[str, Any] = {
        "user_name": user_display_name(conversation.owner), "persona_name": conversation.persona.name,
    }
    text, method = None, "llm"
    if use_llm:
        text = llm_summary(previous=previous, messages=fold, **names)
    if not text:
        text, method = extractive_summary(previous=previous, messages=fold, **names), "extractive"
    return ConversationSummary.objects.create(
        conversation=conversation, text=text, method=method,
        seq_from=latest.seq_from if latest else fold[0].seq, seq_to=fold[-1].seq,
    )
