"""Memory's contribution to the reply prompt (chat.prompt's section seam).

Sections, in the documented order (chat.prompt sorts by priority):

* 20 ``relationship``: stage, how to behave at it, recent milestones;
* 30 ``memories``: the user's boundaries (always), then the top items for
  the newest user message across the three layers (facts, past turns of
  either speaker, session summaries), each with its date, in rank order,
  within ``MEMORY_SECTION_CHARS``; turns still in the visible history
  (the conversation's last ``RECENT_TURNS``) are left out, the model
  already sees them;
* 40 ``summary``: the rolling summary of turns too old for the history window.
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from companion.accounts.selectors import user_display_name
from companion.chat.prompt import PromptSection, register_prompt_section
from companion.chat.scene import primary_persona, witnessed_all
from companion.memory.models import Memory
from companion.memory.selectors import (
    memories_recall,
    milestones_for_pair,
    relationship_stage,
    summary_latest,
)
from companion.memory.services import memory_mark_recalled

log = logging.getLogger(__name__)

RELATIONSHIP_PRIORITY = 20
MEMORIES_PRIORITY = 30
SUMMARY_PRIORITY = 40
TOP_K = 6
MAX_BOUNDARIES = 5
RECENT_TURNS = 12
MEMORY_SECTION_CHARS = 1400
MAX_LINE_CHARS = 280
LAYER_LABEL = {Memory.Layer.EPISODIC: "said", Memory.Layer.SEMANTIC: "", Memory.Layer.SESSION: "session"}

STAGE_GUIDANCE = {
    "stranger": "You have only just met: be friendly but a little reserved, and get to know them.",
    "acquaintance": "You know each other a bit: be warm, curious and remember what they told you.",
    "friend": "You are friends: be relaxed, playful and supportive; refer to shared history naturally.",
    "close_friend": "You are close friends: be openly affectionate and caring; you can tease gently.",
    "partner": "You are partners: be intimate and devoted, within the boundaries they set.",
}


def _date(value: Any) -> str:
    return timezone.localtime(value).date().isoformat() if value else "?"


def relationship_text(*, user: Any, persona: Any, user_name: str) -> str:
    stage, state = relationship_stage(user=user, persona=persona)
    lines = [f"Your relationship with {user_name}: {stage.label}."]
    guidance = STAGE_GUIDANCE.get(stage.name)
    if guidance:
        lines.append(guidance)
    if state is not None:
        lines.append(
            f"(affinity {state.affinity:+.2f}, trust {state.trust:.2f}, {state.exchanges} exchanges"
            + (f", first met {_date(state.first_met_at)})" if state.first_met_at else ")")
        )
        recent = milestones_for_pair(user=user, persona=persona, limit=4)
        if recent:
            lines.append("Recent milestones:")
            lines += [f"- {_date(m.happened_at)}: {m.title}" for m in recent]
    return "\n".join(lines)


def _line(m: Memory) -> str:
    when = _date(m.created_at)
    if m.layer == Memory.Layer.SESSION and m.ended_at and _date(m.ended_at) != when:
        when = f"{when}..{_date(m.ended_at)}"
    label = LAYER_LABEL.get(m.layer, "")
    text = m.text if len(m.text) <= MAX_LINE_CHARS else m.text[: MAX_LINE_CHARS - 1] + "…"
    return f"- ({when}{', ' + label if label else ''}) {text}"


def memories_text(*, user: Any, persona: Any, user_name: str, query: str, conversation: Any = None
                  ) -> tuple[str, list[int]]:
    boundaries = list(
        Memory.objects.filter(user=user, persona=persona, kind=Memory.Kind.BOUNDARY)
        .order_by("-importance", "-created_at")[:MAX_BOUNDARIES]
    )
    # On the shared DB thread: the question's vectors come from the reply's warm-up, never the encoder.
    recalled = [r.memory for r in memories_recall(user=user, persona=persona, query=query or "", k=TOP_K * 2,
                                                  cached_vectors_only=True)]
    recent: set[int] = set()
    if conversation is not None:
        recent_from = max(0, (getattr(conversation, "last_seq", 0) or 0) - RECENT_TURNS)
        rows = conversation.messages.filter(seq__gt=recent_from).values_list("pk", "copied_from_id")
        recent = {pk for row in rows for pk in row if pk}  # a branch's copy shows its source's items too
    shown: list[Memory] = []
    for m in recalled:
        if m.kind == Memory.Kind.BOUNDARY:
            continue
        if m.layer != Memory.Layer.SESSION and m.message_id in recent:
            continue  # still in the visible history
        shown.append(m)
        if len(shown) >= TOP_K:
            break
    lines: list[str] = []
    if boundaries:
        lines.append(f"Boundaries {user_name} set (always respect them):")
        lines += [f"- {m.text}" for m in boundaries]
    used = [m.pk for m in boundaries]
    if shown:
        lines.append(f"What you remember with {user_name} (most relevant first):")
        budget = MEMORY_SECTION_CHARS - sum(len(x) + 1 for x in lines)
        for m in shown:  # rank order: what is cut for the budget is what ranked lowest
            line = _line(m)
            if len(line) + 1 > budget and used[len(boundaries):]:
                break
            lines.append(line)
            used.append(m.pk)
            budget -= len(line) + 1
    return "\n".join(lines), used


def sections(*, conversation: Any, query_text: str) -> list:
    user, persona = conversation.owner, conversation.persona
    name = user_display_name(user)
    out = [PromptSection("relationship", relationship_text(user=user, persona=persona, user_name=name),
                         RELATIONSHIP_PRIORITY)]
    text, used = memories_text(user=user, persona=persona, user_name=name, query=query_text,
                               conversation=conversation)
    if text:
        out.append(PromptSection("memories", text, MEMORIES_PRIORITY))
        memory_mark_recalled(memory_ids=used)
    summary = summary_latest(conversation=conversation)
    if summary is not None and persona.pk != primary_persona(conversation).pk and not witnessed_all(
            conversation, persona.pk, summary.seq_from, summary.seq_to):
        summary = None  # a scene member that was not there for all of it must not learn it from the summary
    if summary is not None:
        out.append(PromptSection(
            "summary", f"Earlier in this conversation (summary up to message #{summary.seq_to}):\n{summary.text}",
            SUMMARY_PRIORITY,
        ))
    return out


def register() -> None:
    register_prompt_section(sections)
