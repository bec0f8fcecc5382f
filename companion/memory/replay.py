"""An import's exchanges replayed in memory and written in bulk.

The live chat runs ``pipeline.exchange_process`` after each reply: the slot rules through the
reconciler, the relationship and its milestones, ~10 queries and a relationship update per exchange.
An import replays hundreds of exchanges at once (``importer.import_finish``), so ``exchanges_replay``
runs the same code (``reconciler.memory_apply_exchange``, ``relationship.exchange_fold``) on in-memory
copies of the pair's semantic items, milestones and relationship state (``ReplayMemories``,
``ReplayMilestones``) and writes what changed every ``WRITE_EVERY`` exchanges, in one transaction
that also moves ``last_user_message_id``: an interrupted replay resumes after its last write, as the
per-exchange path resumes after its last exchange. Same result as that path
(tests/memory/test_replay.py imports one chat both ways and compares).

Only for what the per-exchange path does without the model in a one-persona conversation; the
model's extraction and group scenes go exchange by exchange.

The live chat may write the same pair's memory meanwhile (another conversation with this persona).
Each write checks, under the relationship row's lock, that the pair's semantic items, milestones and
state are still as this replay read them; if not, nothing of that batch is written
(``ReplayConflict``) and the caller goes on exchange by exchange.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Max
from django.utils import timezone

from companion.accounts.selectors import user_display_name
from companion.chat.models import Conversation, Message
from companion.memory import embeddings, recall_index
from companion.memory.extraction import sentiment
from companion.memory.indexing import Names, told_name
from companion.memory.models import Memory, Milestone, RelationshipState
from companion.memory.pipeline import name_told_in, rule_candidates
from companion.memory.recall_index import pair_invalidate
from companion.memory.reconciler import PairMemories, embeddings_warm, memory_apply_exchange
from companion.memory.relationship import PairMilestones, exchange_fold, stages_for
from companion.memory.services import memory_change

WRITE_EVERY = 256  # exchanges per write transaction (the resume step)
WARM_EVERY = 64  # user turns whose rule texts are embedded in one encoder call (fits the embed_one LRU)

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class ReplayConflict(Exception):
    """The pair's memory or relationship changed under the replay: its batch was not written."""


def _iexact(text: str) -> str:
    """The key ``text__iexact`` compares: SQLite's LIKE folds ASCII letters only, PostgreSQL UPPER()s."""
    return text.upper() if connection.vendor == "postgresql" else text.translate(_ASCII_LOWER)


class ReplayMemories(PairMemories):
    """The pair's semantic items in memory; what the reconciler changes is written by ``Replay.write``."""

    def __init__(self, *, user: Any, persona: Any, before_snapshot: Callable[[], None]) -> None:
        super().__init__(user=user, persona=persona)
        self._before_snapshot = before_snapshot
        self._order: dict[int, int] = {}  # id(row) -> its pk, or after every stored pk for new rows
        self._by_slot: dict[str, list[Memory]] = {}
        self._by_text: dict[str, list[Memory]] = {}
        self._by_pk: dict[int, Memory] = {}
        self.new: list[Memory] = []  # unsaved, in creation order
        self.dirty: dict[int, Memory] = {}  # stored rows changed: id(row) -> row
        self.deleted: list[int] = []
        self.links: list[tuple[Memory, int]] = []  # (row, message id) source links to add
        rows = list(self._semantic().defer("embedding").order_by("pk"))  # the rules never read old vectors
        for row in rows:
            self._keep(row, row.pk)
        self._next = (rows[-1].pk if rows else 0) + 1

    @property
    def pending(self) -> bool:
        return bool(self.new or self.dirty or self.deleted or self.links)

    def _keep(self, row: Memory, order: int) -> None:
        self._order[id(row)] = order
        self._by_slot.setdefault(row.slot, []).append(row)
        self._by_text.setdefault(_iexact(row.text), []).append(row)
        if row.pk is not None:
            self._by_pk[row.pk] = row

    def _drop(self, row: Memory) -> None:
        self._by_slot[row.slot].remove(row)
        self._by_text[_iexact(row.text)].remove(row)
        if row.pk is not None:
            self._by_pk.pop(row.pk, None)

    def _newest_first(self, rows: list[Memory]) -> list[Memory]:
        # The model's ordering: -created_at, -pk (new rows get their pks in creation order, after every stored one).
        return sorted(rows, key=lambda m: (m.created_at, self._order[id(m)]), reverse=True)

    def with_slot(self, slot: str) -> list[Memory]:
        return self._newest_first(self._by_slot.get(slot, []))

    def same_text(self, text: str) -> list[Memory]:
        return self._newest_first(self._by_text.get(_iexact(text.strip()), []))[:5]

    def get(self, pk: int) -> Memory | None:
        return self._by_pk.get(pk)

    def index(self) -> recall_index.PairIndex:
        # The per-exchange path builds the pair's index at its first lookup from what is stored by then
        # and keeps that copy (allow_stale): changes made before it must be stored first to match.
        if self.pending and not recall_index.pair_index_cached(self.user.pk, self.persona.pk):
            self._before_snapshot()
        return super().index()

    def create(self, memory: Memory, sources: list[Any]) -> None:
        self.new.append(memory)
        self._keep(memory, self._next)
        self._next += 1
        self.links += [(memory, s.pk) for s in sources]

    def add_source(self, memory: Memory, message: Any) -> None:
        self.links.append((memory, message.pk))

    def update(self, memory: Memory, *, text: str, kind: str | None, importance: float | None,
               source: Any) -> None:
        self._drop(memory)
        memory_change(memory=memory, text=text, kind=kind, importance=importance)
        memory.updated_at = timezone.now()  # bulk_update leaves auto_now fields as they are
        self._keep(memory, self._order[id(memory)])
        if memory.pk is not None:
            self.dirty[id(memory)] = memory
        self.links.append((memory, source.pk))

    def delete(self, memory: Memory) -> None:
        self._drop(memory)
        if memory.pk is None:
            self.new.remove(memory)
        else:
            self.dirty.pop(id(memory), None)
            self.deleted.append(memory.pk)
        self.links = [(m, message_id) for m, message_id in self.links if m is not memory]

    def written(self) -> None:
        """After ``Replay.write``: the new rows have their pks and nothing is pending."""
        for row in self.new:
            self._by_pk[row.pk] = row
        self.new, self.dirty, self.deleted, self.links = [], {}, [], []


class ReplayMilestones(PairMilestones):
    """The pair's milestones in memory; the new ones are written by ``Replay.write``."""

    def __init__(self, *, user_id: int, persona_id: int) -> None:
        super().__init__(user_id=user_id, persona_id=persona_id)
        rows = list(self._pair().order_by("pk").values_list("pk", "kind", "happened_at", "data"))
        self._seen = [(kind, when, pk, (data or {}).get("key") if isinstance(data, dict) else None)
                      for pk, kind, when, data in rows]
        self._next = (rows[-1][0] if rows else 0) + 1
        self.new: list[Milestone] = []

    def open_conflict(self) -> bool:
        marks = [(when, order, kind) for kind, when, order, _ in self._seen
                 if kind in (Milestone.Kind.CONFLICT, Milestone.Kind.RECONCILIATION)]
        return bool(marks) and max(marks)[2] == Milestone.Kind.CONFLICT

    def has(self, kind: str, key: str | None = None) -> bool:
        return any(k == kind and (key is None or seen_key == key) for k, _, _, seen_key in self._seen)

    def add(self, milestone: Milestone) -> None:
        self.new.append(milestone)
        self._seen.append((milestone.kind, milestone.happened_at, self._next, (milestone.data or {}).get("key")))
        self._next += 1


class Replay:
    """One import's exchanges replayed on in-memory copies, written every ``WRITE_EVERY`` exchanges."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.user, self.persona = conversation.owner, conversation.persona
        self.ladder = stages_for(self.persona)
        self.base_names = Names.for_conversation(conversation)
        self.display_name = user_display_name(self.user)
        self.state = RelationshipState.objects.filter(user=self.user, persona=self.persona).first()
        self.state_counted = self.state is not None  # a state made here is stored once it counted an exchange
        self.memories = ReplayMemories(user=self.user, persona=self.persona, before_snapshot=self._snapshot)
        self.milestones = ReplayMilestones(user_id=self.user.pk, persona_id=self.persona.pk)
        self.expected = self._fingerprint(self.state)
        self.since_write = 0
        self.memories_added = 0
        self.milestones_made = 0

    # -- one exchange: pipeline.exchange_process_for with index_turns=False and no model --

    def _names(self, user_message: Message) -> Names:
        name = self.display_name
        if name == self.user.get_username():  # indexing.user_name_for: the name the user told
            told = next((m.text for m in self.memories.with_slot("name")), None)
            name = told_name(told or "") or name
        names = replace(self.base_names, user=name)
        if names.user == self.user.get_username():
            names.user = name_told_in(user_message) or names.user
        return names

    def exchange(self, user_message: Message) -> None:
        state = self.state
        if user_message.deleted or not (user_message.content or "").strip() or (
                state is not None and state.last_user_message_id is not None
                and user_message.pk <= state.last_user_message_id):
            return
        names = self._names(user_message)
        text = user_message.content
        candidates = rule_candidates(user_message, names)
        embeddings_warm(texts=["", *(c.text for c in candidates)])
        if state is None:
            state = self.state = RelationshipState(user=self.user, persona=self.persona, stage=self.ladder[0].name)
        report = memory_apply_exchange(
            user=self.user, persona=self.persona, conversation=self.conversation, user_message=user_message,
            candidates=candidates, result=None, shown_ids=[], when=user_message.created_at,
            name=names.speaker(user_message), store=self.memories,
        )
        shared_personal, event_text = report.relationship_cues()
        made = exchange_fold(
            state, ladder=self.ladder, log=self.milestones, created=False, user_message=user_message,
            when=user_message.created_at, sentiment=sentiment(text), shared_personal=shared_personal,
            new_event_text=event_text,
        )
        state.last_user_message_id = user_message.pk
        self.state_counted = True
        self.memories_added += len(report.added)
        self.milestones_made += len(made)
        self.since_write += 1
        if self.since_write >= WRITE_EVERY:
            self.write()

    # -- writing --

    def _fingerprint(self, state: RelationshipState | None) -> tuple:
        semantic = Memory.objects.filter(user=self.user, persona=self.persona, layer=Memory.Layer.SEMANTIC
                                         ).aggregate(n=Count("pk"), pk=Max("pk"), at=Max("updated_at"))
        marks = Milestone.objects.filter(user=self.user, persona=self.persona).aggregate(n=Count("pk"), pk=Max("pk"))
        row = None if state is None or state.pk is None else (state.pk, state.exchanges, state.last_user_message_id)
        return (row, tuple(semantic.values()), tuple(marks.values()))

    def _snapshot(self) -> None:
        """Store what is pending before the pair's index is first built (see ReplayMemories.index)."""
        self.write()

    def write(self) -> None:
        """Store what changed since the last write, in one transaction (raises ReplayConflict)."""
        mem, marks = self.memories, self.milestones
        if not (mem.pending or marks.new or self.since_write):
            return  # nothing counted since the last write (an import run again once complete)
        try:
            with transaction.atomic():
                stored = RelationshipState.objects.select_for_update().filter(
                    user=self.user, persona=self.persona).first()
                if self._fingerprint(stored) != self.expected:
                    raise ReplayConflict
                if mem.deleted:
                    Memory.objects.filter(pk__in=mem.deleted).delete()
                if mem.dirty:
                    Memory.objects.bulk_update(list(mem.dirty.values()),
                                               ["text", "embedding", "kind", "importance", "updated_at"])
                Memory.objects.bulk_create(mem.new)
                through = Memory.source_messages.through
                through.objects.bulk_create([through(memory_id=m.pk, message_id=message_id)
                                             for m, message_id in mem.links], ignore_conflicts=True)
                Milestone.objects.bulk_create(marks.new)
                if self.state is not None and self.state_counted:
                    self.state.save()
                self.expected = self._fingerprint(self.state)
        except IntegrityError as exc:  # e.g. another worker created the relationship meanwhile
            raise ReplayConflict from exc
        if mem.pending or marks.new:
            pair_invalidate(self.user.pk, self.persona.pk)
        mem.written()
        marks.new = []
        self.since_write = 0


def replay_walk(turns: list[Message], *, done_up_to: int, names: Names) -> Iterator[tuple[int, Message, bool]]:
    """Each of ``turns`` (oldest first) as (position, message, whether it is a user turn still to count,
    i.e. after ``done_up_to``). Before every ``WARM_EVERY`` such turns, their rule texts are embedded in
    one encoder call, so the reconciler finds them in the LRU instead of running the encoder per text."""
    user_turns = [m for m in turns if m.role == Message.Role.USER and m.pk > done_up_to]
    position = {m.pk: n for n, m in enumerate(user_turns)}
    for i, message in enumerate(turns):
        n = position.get(message.pk)
        if n is not None and n % WARM_EVERY == 0:
            embeddings.embed_many_cached([c.text for m in user_turns[n:n + WARM_EVERY]
                                          for c in rule_candidates(m, names)])
        yield i, message, n is not None


def exchanges_replay(*, conversation: Conversation, turns: list[Message], names: Names,
                     on_processed: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Replay every user turn of ``turns`` (the conversation's messages, oldest first) not counted yet;
    returns (memories added, milestones). Raises ReplayConflict when the pair changed under it (what
    was written until then stays: the per-exchange path resumes after it)."""
    replay = Replay(conversation)
    done_up_to = (replay.state.last_user_message_id or 0) if replay.state else 0
    for _, message, to_count in replay_walk(turns, done_up_to=done_up_to, names=names):
        if to_count:
            replay.exchange(message)
        if on_processed:
            on_processed(1)
    replay.write()
    return replay.memories_added, replay.milestones_made
