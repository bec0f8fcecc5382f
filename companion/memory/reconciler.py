"""The reconciler: folds each exchange into memory, from the slot rules and (optionally) the model.

Safety rules of the reconciler (why a weak model cannot corrupt memory):

* the model only sees, and may only touch, the memories listed in its prompt
  (ids it makes up are ignored);
* DELETE is applied only when the user's message contains a retraction cue
  ("no longer", "actually", "not anymore"…) AND the memory is about what the
  message talks about (semantic or word overlap) — or when the deterministic
  rules retract the same slot;
* UPDATE must stay on topic (similar to the old text) and keeps every source
  link, adding the new message;
* memories the user edited by hand are never changed or deleted by extraction;
* an invalid reply (StructuredOutputError, timeout, anything) means: rules only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from django.conf import settings

from companion.llm.base import ChatTurn, SamplingParams
from companion.llm.guard import ModelCallForbidden, model_call_sync
from companion.llm.registry import get_backend
from companion.memory import embeddings, recall_index
from companion.memory.extraction import Candidate, ExtractionResult, MemoryOp, has_retraction_cue, normalise
from companion.memory.models import Memory
from companion.memory.services import memory_build, memory_delete, memory_update

log = logging.getLogger(__name__)

DUPLICATE_SIMILARITY = 0.9  # an ADD this close to a stored memory only adds a source link
UPDATE_MIN_SIMILARITY = 0.35  # an UPDATE further than this from the old text is off topic
DELETE_MIN_RELATEDNESS = 0.3  # how related a retraction must be to the memory it deletes


@dataclass
class ReconcileReport:
    added: list[Memory] = field(default_factory=list)
    updated: list[Memory] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # why each refused op was refused

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.deleted)

    def relationship_cues(self) -> tuple[bool, str | None]:
        """(the user shared something personal, the text of the first event learnt): what the
        relationship's rules read from this exchange's memory changes."""
        event = next((m for m in self.added if m.kind == Memory.Kind.EVENT), None)
        personal = any(m.kind != Memory.Kind.EVENT for m in self.added) or bool(self.updated)
        return personal or event is not None, event.text if event else None


def _words(text: str) -> set[str]:
    return {w for w in normalise(text).split() if len(w) > 2 and w not in {"user", "the", "they", "their"}}


def _related(memory: Memory, message_text: str, message_vec: np.ndarray) -> bool:
    vec = memory.vector()
    dense = float(vec @ message_vec) if vec is not None else 0.0
    return dense >= DELETE_MIN_RELATEDNESS or bool(_words(memory.text) & _words(message_text))


class PairMemories:
    """Where the reconciler reads and writes the pair's semantic items: the database, one statement
    at a time (the live chat). An import's replay passes an in-memory copy written in bulk instead
    (``replay.ReplayMemories``), so both run the same decisions."""

    def __init__(self, *, user: Any, persona: Any) -> None:
        self.user, self.persona = user, persona

    def _semantic(self):
        return Memory.objects.filter(user=self.user, persona=self.persona, layer=Memory.Layer.SEMANTIC)

    def with_slot(self, slot: str) -> list[Memory]:
        """The pair's semantic items in ``slot``, newest first."""
        return list(self._semantic().filter(slot=slot))

    def same_text(self, text: str) -> list[Memory]:
        """Up to five semantic items whose text is ``text`` up to case, newest first."""
        return list(self._semantic().filter(text__iexact=text.strip())[:5])

    def get(self, pk: int) -> Memory | None:
        return self._semantic().filter(pk=pk).first()

    def index(self) -> recall_index.PairIndex:
        """The pair's retrieval index, possibly a version behind (this exchange's own writes)."""
        return recall_index.pair_index(getattr(self.user, "pk", self.user),
                                       getattr(self.persona, "pk", self.persona), allow_stale=True)

    def create(self, memory: Memory, sources: list[Any]) -> None:
        memory.save(force_insert=True)
        if sources:
            memory.source_messages.add(*sources)

    def add_source(self, memory: Memory, message: Any) -> None:
        memory.source_messages.add(message)

    def update(self, memory: Memory, *, text: str, kind: str | None, importance: float | None,
               source: Any) -> None:
        memory_update(memory=memory, text=text, kind=kind, importance=importance, sources=[source])

    def delete(self, memory: Memory) -> None:
        memory_delete(memory=memory)


class Reconciler:
    """Applies ops for one exchange against the memories the model was shown."""

    def __init__(self, *, user: Any, persona: Any, conversation: Any, user_message: Any, when: datetime,
                 shown: list[Memory], name: str = "", store: PairMemories | None = None) -> None:
        self.user, self.persona, self.conversation = user, persona, conversation
        self.store = store or PairMemories(user=user, persona=persona)
        self.name = name
        self.user_message, self.when = user_message, when
        self.text = getattr(user_message, "content", "") or ""
        self.shown = {m.pk: m for m in shown}
        self.report = ReconcileReport()
        self._message_vec: np.ndarray | None = None

    @property
    def message_vec(self) -> np.ndarray:
        if self._message_vec is None:
            self._message_vec = embeddings.embed_one(self.text)
        return self._message_vec

    def _duplicate_of(self, vec: np.ndarray, text: str) -> Memory | None:
        """The stored fact this one repeats: the same normalised text, or (semantic layer only) a
        near-identical vector. Vectors come from the pair's retrieval index (one matrix product),
        not a scan of every row, plus the items added in this exchange."""
        key = normalise(text)
        for m in [*self.report.added, *self.store.same_text(text)]:
            if m.layer == Memory.Layer.SEMANTIC and normalise(m.text) == key:
                return m
        # Possibly a version behind (this transaction's own writes): what it lacks is in report.added.
        index = self.store.index()
        if index.size:
            sims = recall_index.dense_scores(index.matrix, vec)
            sims[index.layers != recall_index.LAYER_CODES[Memory.Layer.SEMANTIC]] = 0.0
            best = int(np.argmax(sims))
            if sims[best] >= DUPLICATE_SIMILARITY:
                found = self.store.get(int(index.ids[best]))
                if found is not None:
                    return found
        for m in self.report.added:
            v = m.vector()
            if v is not None and v.shape == vec.shape and float(v @ vec) >= DUPLICATE_SIMILARITY:
                return m
        return None

    def add(self, *, text: str, kind: str, importance: float, slot: str = "") -> Memory | None:
        text = (text or "").strip()
        if len(text) < 3:
            self.report.ignored.append("ADD without text")
            return None
        vec = embeddings.embed_one(text)
        dup = self._duplicate_of(vec, text)
        if dup is not None:
            self.store.add_source(dup, self.user_message)
            return dup
        memory = memory_build(
            user=self.user, persona=self.persona, text=text, kind=kind, importance=importance,
            conversation=self.conversation, slot=slot, created_at=self.when, vector=vec,
            message=self.user_message, speaker=self.name,
        )
        self.store.create(memory, [s for s in [self.user_message] if s is not None])
        self.report.added.append(memory)
        return memory

    def update(self, memory: Memory, *, text: str, kind: str | None = None, importance: float | None = None,
               trusted: bool = False) -> None:
        if memory.edited_by_user:
            self.report.ignored.append(f"UPDATE {memory.pk}: edited by the user")
            return
        text = (text or "").strip()
        if len(text) < 3:
            self.report.ignored.append(f"UPDATE {memory.pk} without text")
            return
        if not trusted:
            old = memory.vector()
            sim = float(old @ embeddings.embed_one(text)) if old is not None else 0.0
            if sim < UPDATE_MIN_SIMILARITY and not (_words(text) & _words(memory.text)):
                self.report.ignored.append(f"UPDATE {memory.pk}: off topic ({sim:.2f})")
                return
        self.store.update(memory, text=text, kind=kind, importance=importance, source=self.user_message)
        if memory not in self.report.updated:
            self.report.updated.append(memory)

    def delete(self, memory: Memory, *, trusted: bool = False) -> None:
        if memory.edited_by_user:
            self.report.ignored.append(f"DELETE {memory.pk}: edited by the user")
            return
        if not trusted:
            if not has_retraction_cue(self.text):
                self.report.ignored.append(f"DELETE {memory.pk}: no retraction in the message")
                return
            if not _related(memory, self.text, self.message_vec):
                self.report.ignored.append(f"DELETE {memory.pk}: unrelated to the message")
                return
        self.report.deleted.append(memory.pk)
        self.shown.pop(memory.pk, None)
        self.store.delete(memory)

    # -- the two sources --

    def apply_llm(self, result: ExtractionResult) -> None:
        for op in result.ops:
            self._apply_op(op)

    def _apply_op(self, op: MemoryOp) -> None:
        if op.op == "NONE":
            return
        if op.op == "ADD":
            self.add(text=self._named(op.text or ""), kind=op.kind, importance=op.importance)
            return
        memory = self.shown.get(op.id) if op.id is not None else None
        if memory is None:
            self.report.ignored.append(f"{op.op} of unknown id {op.id}")
            return
        if op.op == "UPDATE":
            self.update(memory, text=self._named(op.text or ""), kind=op.kind, importance=op.importance)
        elif op.op == "DELETE":
            self.delete(memory)

    def _named(self, text: str) -> str:
        """The model was asked for names; "The user …" it still writes becomes the name."""
        text = text.strip()
        if self.name and text.startswith("The user") and not text.startswith("The user's name"):
            return self.name + text[len("The user"):]
        return text

    def apply_rules(self, candidates: list[Candidate]) -> None:
        for c in candidates:
            existing = self.store.with_slot(c.slot) if c.slot else []
            if c.retract:
                for memory in existing:
                    self.delete(memory, trusted=True)
                continue
            if existing:
                # Same slot, new value: "actually my name is Alex" corrects the old name.
                self.update(existing[0], text=c.text, kind=c.kind, importance=c.importance, trusted=True)
            else:
                self.add(text=c.text, kind=c.kind, importance=c.importance, slot=c.slot)


def use_llm_extraction() -> bool:
    return settings.MEMORY_LLM_EXTRACTION


EXTRACTION_SYSTEM = (
    "You maintain the long-term memory of a companion character about the user, who is called {name}. Read the "
    "new exchange and the existing memories (with ids). Return JSON operations: ADD a new durable fact, "
    "preference, event or boundary about the user (one short third-person sentence starting with '{name}', "
    "names instead of pronouns, dates kept); UPDATE id with corrected or "
    "merged text when the user changed or refined a stored memory; DELETE id only when the user clearly "
    "retracted it; NONE when nothing is worth remembering. Do not store small talk or what the character "
    "said about itself. Also estimate affinity_delta and trust_delta (-0.2..0.2) for this exchange."
)


def extraction_turns(*, existing: list[Memory], user_text: str, reply_text: str, user_name: str = ""):
    listed = "\n".join(f"- id={m.pk} [{m.kind}] {m.text}" for m in existing) or "(none)"
    body = (
        f"Existing memories:\n{listed}\n\nNew exchange:\nUser: {user_text.strip()[:2000]}\n"
        f"Character: {reply_text.strip()[:1000]}\n\nReturn the JSON operations."
    )
    return [ChatTurn("system", EXTRACTION_SYSTEM.format(name=user_name or "The user")), ChatTurn("user", body)]


def llm_extract(*, existing: list[Memory], user_text: str, reply_text: str, user_name: str = ""
                ) -> ExtractionResult | None:
    """The model's proposal, or None when it is unavailable, too slow or its output is invalid.

    Never call it inside a transaction: the backend's guard refuses (see companion.llm.guard).
    """

    try:
        return model_call_sync(
            "memory extraction", get_backend().complete_json,
            extraction_turns(existing=existing, user_text=user_text, reply_text=reply_text, user_name=user_name),
            schema=ExtractionResult,
            params=SamplingParams(temperature=0.0, max_tokens=400, background=True),
            timeout_s=settings.MEMORY_EXTRACT_TIMEOUT_S,
        )
    except ModelCallForbidden:
        raise
    except Exception as exc:
        log.info("memory extraction: model output unusable (%s); using the rules only", exc)
        return None


def embeddings_warm(*, texts: Iterable[str]) -> None:
    """Embed now what the reconciler will embed, so the write transaction only reads the cache."""
    for text in {t.strip() for t in texts if t and t.strip()}:
        embeddings.embed_one(text)


def memory_apply_exchange(
    *, user: Any, persona: Any, conversation: Any, user_message: Any, candidates: list[Candidate],
    result: ExtractionResult | None, shown_ids: list[int], when: datetime, name: str = "",
    store: PairMemories | None = None,
) -> ReconcileReport:
    """Apply the model's proposal (if any), then the rules, for one exchange.

    Runs inside the caller's short write transaction, after the model call:
    ``shown_ids`` are re-read here, so a memory deleted meanwhile is simply unknown.
    """
    shown = list(Memory.objects.filter(pk__in=shown_ids, user=user, persona=persona)) if shown_ids else []
    rec = Reconciler(user=user, persona=persona, conversation=conversation, user_message=user_message,
                     when=when, shown=shown, name=name, store=store)
    if result is not None:
        rec.apply_llm(result)
    rec.apply_rules(candidates)
    return rec.report
