"""Writes to memories: the Memory panel's edits, imports and the admin.

The reconciler that folds each exchange into memory (and its safety rules) is ``reconciler.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import numpy as np
from django.db.models import Q
from django.utils import timezone

from companion.chat.models import Message
from companion.memory import embeddings
from companion.memory.models import Memory

log = logging.getLogger(__name__)


# --- plain writes (the Memory panel, imports, admin) -----------------------------------


def memory_create(
    *,
    user: Any,
    persona: Any,
    text: str,
    kind: str = Memory.Kind.FACT,
    importance: float = 0.5,
    conversation: Any = None,
    sources: Iterable[Any] = (),
    slot: str = "",
    created_at: datetime | None = None,
    vector: np.ndarray | None = None,
    layer: str = Memory.Layer.SEMANTIC,
    message: Any = None,
    speaker: str = "",
    ended_at: datetime | None = None,
) -> Memory:
    memory = memory_build(user=user, persona=persona, text=text, kind=kind, importance=importance,
                          conversation=conversation, slot=slot, created_at=created_at, vector=vector, layer=layer,
                          message=message, speaker=speaker, ended_at=ended_at)
    memory.save(force_insert=True)
    sources = [s for s in sources if s is not None]
    if sources:
        memory.source_messages.add(*sources)
    return memory


def memory_build(
    *, user: Any, persona: Any, text: str, kind: str = Memory.Kind.FACT, importance: float = 0.5,
    conversation: Any = None, slot: str = "", created_at: datetime | None = None, vector: np.ndarray | None = None,
    layer: str = Memory.Layer.SEMANTIC, message: Any = None, speaker: str = "", ended_at: datetime | None = None,
) -> Memory:
    """The unsaved row ``memory_create`` stores (an import's replay writes many at once)."""
    text = text.strip()
    if vector is None:
        vector = embeddings.embed_one(text)
    return Memory(
        user=user, persona=persona, conversation=conversation, text=text, kind=kind, layer=layer,
        message=message, speaker=speaker[:120], ended_at=ended_at,
        importance=float(min(1.0, max(0.0, importance))), slot=slot[:120],
        embedding=embeddings.to_bytes(vector), created_at=created_at or timezone.now(),
    )


def memory_update(
    *,
    memory: Memory,
    text: str | None = None,
    kind: str | None = None,
    importance: float | None = None,
    by_user: bool = False,
    sources: Iterable[Any] = (),
) -> Memory:
    """Change a memory; its source links are kept (and ``sources`` added)."""
    fields = memory_change(memory=memory, text=text, kind=kind, importance=importance, by_user=by_user)
    memory.save(update_fields=fields)
    sources = [s for s in sources if s is not None]
    if sources:
        memory.source_messages.add(*sources)
    return memory


def memory_change(*, memory: Memory, text: str | None = None, kind: str | None = None,
                  importance: float | None = None, by_user: bool = False) -> list[str]:
    """``memory_update``'s changes to the instance, unsaved; returns the fields to save."""
    fields = ["updated_at"]
    if text is not None and text.strip() and text.strip() != memory.text:
        memory.text = text.strip()
        memory.embedding = embeddings.to_bytes(embeddings.embed_one(memory.text))
        fields += ["text", "embedding"]
    if kind is not None and kind in Memory.Kind.values:
        memory.kind = kind
        fields.append("kind")
    if importance is not None:
        memory.importance = float(min(1.0, max(0.0, importance)))
        fields.append("importance")
    if by_user:
        memory.edited_by_user = True
        fields.append("edited_by_user")
    return fields


def memory_delete(*, memory: Memory) -> None:
    """'Forget this': the row is gone, not hidden."""
    memory.delete()


def memory_forget_source(*, user: Any, persona: Any, message: Any) -> list[int]:
    """Undo what ``message`` taught memory: memories it alone backs go (unless the user edited
    them by hand); others just lose it as a source. Returns the deleted ids."""
    deleted = []
    items = Memory.objects.filter(user=user, persona=persona).filter(
        Q(source_messages=message) | Q(message=message)).distinct()
    for memory in items:
        others = list(memory.source_messages.exclude(pk=message.pk).order_by("created_at", "pk")[:1])
        if memory.layer == Memory.Layer.SESSION and not memory.edited_by_user:
            others = []  # a summary that quoted this turn is written again (sessions.sessions_update)
        if memory.layer == Memory.Layer.EPISODIC and memory.message_id == message.pk and not memory.edited_by_user:
            others = []  # a turn's own item goes with it, though it also names the turn it answered
        if others or memory.edited_by_user:
            memory.source_messages.remove(message)
            if memory.message_id == message.pk:  # the item now stands on another of its turns
                memory.message = others[0] if others else None
                memory.save(update_fields=["message", "updated_at"])
        else:
            deleted.append(memory.pk)
            memory_delete(memory=memory)
    # The next turn's episodic item may quote this one as context ("Mira (to Ada's "…"): …"): it goes
    # too, and is written again from what is there now by the next sync (pipeline.memory_sync_turns).

    after = Message.objects.filter(conversation_id=message.conversation_id, seq__gt=message.seq,
                                   kind=Message.Kind.TEXT).order_by("seq").values_list("pk", flat=True).first()
    if after is not None:
        for memory in Memory.objects.filter(message_id=after, layer=Memory.Layer.EPISODIC, edited_by_user=False,
                                            text__contains=" (to "):
            deleted.append(memory.pk)
            memory_delete(memory=memory)
    return deleted


def memory_mark_recalled(*, memory_ids: list[int], when: datetime | None = None) -> None:
    from django.db.models import F

    if memory_ids:
        # queryset.update skips save(): no cache invalidation needed for a counter.
        Memory.objects.filter(pk__in=memory_ids).update(
            times_recalled=F("times_recalled") + 1, last_recalled_at=when or timezone.now()
        )
