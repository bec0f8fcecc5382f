"""The episodic and semantic layers: every turn of both speakers becomes recallable items.

For each new turn (user or persona, active, not deleted, with text) memory
stores one *episodic* item — ``"Caroline: <the turn>"``, dated by the turn,
``message`` pointing at it — and the *semantic* items read from it
(``semantic.facts_from_message``): whole sentences with names, one fact per
item; the same fact said again only gains a source (matched by its
normalised text, kept in ``slot``).

Shape of every write (see companion.llm.guard and pipeline.py): read what is
pending (:func:`turns_pending`), build drafts and embed them with no
transaction open (:func:`drafts_for_turns`, :func:`drafts_embed` — the
encoder is CPU work), then :func:`drafts_write` inside the caller's short
write transaction, which re-checks what another worker stored meanwhile.
A turn that was edited, deleted or replaced by another alternative loses its
items (:func:`items_stale`, :func:`items_forget_message`).

A branch's copies of its parent's turns (``Message.copied_from``) are not
turns of their own: while the source is still shown with the same text its
items stand for the copy (memory is per user and persona, so the branch
recalls them), and indexing the copy would only store the same turn twice.
A copy whose source was deleted, replaced or edited, or a copy edited in the
branch, is indexed as the branch's own (:data:`SERVED_BY_SOURCE`).

Group scenes (companion.chat.scene): items are per (user, persona) and a turn is
indexed for a persona only if it witnessed it (``Message.witnesses``); the
conversation passed in is that persona's view (``scene.persona_view``), so
``conversation.persona`` is whose memory is being written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q

from companion.accounts.selectors import user_display_name
from companion.chat.models import Conversation, Message
from companion.chat.scene import primary_persona, witnessed
from companion.memory import embeddings, semantic
from companion.memory.models import Memory
from companion.memory.recall_index import pair_invalidate

EPISODE_IMPORTANCE = 0.3
ZERO = np.zeros(embeddings.DIM, dtype=np.float32)
EMBED_BATCH = 128
TEXT_TURN = Q(
    kind=Message.Kind.TEXT, role__in=[Message.Role.USER, Message.Role.PERSONA], deleted=False, is_active=True,
    status__in=[Message.Status.COMPLETE, Message.Status.INTERRUPTED],
)

# A branch's copy whose source turn still stands for it (the source's items, or the source's own indexing to come).
SERVED_BY_SOURCE = Q(
    copied_from__isnull=False, copied_from__deleted=False, copied_from__is_active=True,
    copied_from__content=F("content"),
)


@dataclass
class Draft:
    layer: str
    kind: str
    text: str
    importance: float
    speaker: str
    message: Message
    slot: str = ""
    created_at: datetime | None = None
    ended_at: datetime | None = None
    sources: list[Message] = field(default_factory=list)
    vector: np.ndarray | None = None
    dense: str = ""  # what is embedded when it differs from ``text`` (see retrieval: names left to the words)


@dataclass
class Names:
    """What each side is called in this conversation (imports: the names in the file)."""

    user: str
    persona: str
    # Group scenes: whose memory this is, and the conversation's own persona (who wrote the
    # replies that name no persona); another member's reply is signed with its own name.
    persona_id: int | None = None
    primary: str = ""
    primary_id: int | None = None

    @classmethod
    def for_conversation(cls, conversation: Conversation) -> Names:
        primary = primary_persona(conversation)
        return cls(user=user_name_for(conversation.owner, conversation.persona), persona=conversation.persona.name,
                   persona_id=conversation.persona_id, primary=primary.name, primary_id=primary.pk)

    def speaker(self, message: Message) -> str:
        name = str((message.extra or {}).get("st_name") or "").strip()
        if name or message.role == Message.Role.USER:
            return name or self.user
        author = message.persona_id or self.primary_id
        if author is None or author == self.persona_id:
            return self.persona
        return message.persona.name if message.persona_id else self.primary

    def learn(self, message: Message) -> None:
        """An imported turn carries its speaker's name: use it for that side from now on."""
        name = str((message.extra or {}).get("st_name") or "").strip()
        if name:
            if message.role == Message.Role.USER:
                self.user = name
            else:
                self.persona = name

    def addressee(self, message: Message) -> str:
        return self.persona if message.role == Message.Role.USER else self.user


_TOLD_NAME = re.compile(r"^The user's name is (.+?)\.?$")


def told_name(text: str) -> str:
    """The name in the name slot's text ("The user's name is Ada." → "Ada")."""
    m = _TOLD_NAME.match(text or "")
    return m.group(1).strip() if m else ""


def user_name_for(user: Any, persona: Any) -> str:
    """What facts call the user: their display name, or — when they never set one and the account only
    has a login name — the name they told this persona ("my name is Ada")."""
    name = user_display_name(user)
    if name == user.get_username():
        told = Memory.objects.filter(user=user, persona=persona, slot="name", layer=Memory.Layer.SEMANTIC
                                     ).values_list("text", flat=True).first()
        name = told_name(told or "") or name
    return name


def turns_pending(*, conversation: Conversation, since_seq: int | None = None) -> list[Message]:
    """Turns of ``conversation`` its persona witnessed and has no episodic item of yet, oldest first."""
    persona_id, primary_id = conversation.persona_id, primary_persona(conversation).pk
    has_episode = Memory.objects.filter(message=OuterRef("pk"), layer=Memory.Layer.EPISODIC, persona_id=persona_id)
    qs = conversation.messages.filter(TEXT_TURN).exclude(content="").exclude(SERVED_BY_SOURCE)
    if since_seq is not None:
        qs = qs.filter(seq__gte=since_seq)
    rows = qs.filter(~Exists(has_episode)).select_related("persona").order_by("seq")
    return [m for m in rows if witnessed(m, persona_id, primary_id)]


def messages_stale(*, conversation: Conversation) -> list[Message]:
    """Turns that still back items but are now deleted, emptied or an inactive alternative."""
    return list(
        conversation.messages.filter(Q(deleted=True) | Q(is_active=False) | Q(content=""))
        .filter(Exists(Memory.source_messages.through.objects.filter(message_id=OuterRef("pk"))))
        .order_by("seq")
    )


def _previous_turn(conversation: Conversation, message: Message) -> Message | None:
    """The turn before ``message`` that this persona witnessed (it reads a reply as answering it)."""
    persona_id, primary_id = conversation.persona_id, primary_persona(conversation).pk
    rows = conversation.messages.filter(TEXT_TURN, seq__lt=message.seq).exclude(content="").select_related(
        "persona").order_by("-seq")[:20]
    return next((m for m in rows if witnessed(m, persona_id, primary_id)), None)


def _context(message: Message, previous: Message | None) -> tuple[str, str, str]:
    """(image caption, the other speaker's turn just before, the question this turn answers)."""
    caption = semantic.image_caption(message.extra)
    prior = previous.content if previous is not None and previous.role != message.role else ""
    return caption, prior, semantic.asked_question(prior, message.content)


def episode_dense(message: Message, previous: Message | None) -> str:
    """What a turn's episodic item embeds: the question it answers, the turn, its image caption
    (no speaker name: see retrieval.first_person)."""
    caption, _, question = _context(message, previous)
    return " ".join(x for x in (question, message.content[:semantic.MAX_EPISODE_CHARS], caption) if x)


def drafts_for_turns(*, conversation: Conversation, turns: Sequence[Message], names: Names | None = None
                     ) -> list[Draft]:
    """Episodic + semantic drafts for ``turns`` (oldest first), with names and dates resolved."""
    if not turns:
        return []
    names = names or Names.for_conversation(conversation)
    previous = _previous_turn(conversation, turns[0])
    if previous is not None:
        names.learn(previous)
    ctx = semantic.Context(speaker="", addressee="")
    drafts: list[Draft] = []
    for message in turns:
        names.learn(message)
        speaker, addressee = names.speaker(message), names.addressee(message)
        when = message.created_at
        caption, prior, question = _context(message, previous)
        drafts.append(Draft(
            layer=Memory.Layer.EPISODIC, kind=Memory.Kind.TURN, importance=EPISODE_IMPORTANCE, speaker=speaker,
            text=semantic.episode_text(message.content, speaker=speaker, caption=caption, answering=question,
                                       asker=addressee),
            message=message, created_at=when, dense=episode_dense(message, previous),
            # A reply that carries the turn it answers quotes it: that turn is a source too (the
            # exchange is one result: "What did Mira ask for after hearing about the cat?").
            sources=[message, previous] if question and previous is not None else [message],
        ))
        facts = semantic.facts_from_message(message.content, speaker=speaker, addressee=addressee, when=when,
                                            previous=prior, is_user=message.role == Message.Role.USER, ctx=ctx)
        shared = semantic.caption_fact(caption, speaker=speaker) if caption else None
        for fact in [*facts, *([shared] if shared else [])]:
            drafts.append(Draft(
                layer=Memory.Layer.SEMANTIC, kind=fact.kind, text=fact.text, importance=fact.importance,
                speaker=speaker, message=message, slot=fact.slot, created_at=when, sources=[message],
                dense=fact.dense,
            ))
        previous = message
    return drafts


def drafts_embed(drafts: Sequence[Draft], *, on_progress: Callable[[int], None] | None = None) -> None:
    """Fill ``vector`` for every draft in batches (no transaction may be open: this is CPU work)."""
    todo = []
    for d in drafts:
        if d.vector is not None:
            continue
        if d.layer == Memory.Layer.EPISODIC and not semantic.content_words(d.message.content or ""):
            d.vector = ZERO  # "haha yes", "lol": nothing to find by meaning; still found by its words
        else:
            todo.append(d)
    # A one-sentence turn and the fact read from it embed the same words: embed each text once.
    # Longest first over the whole import, so each batch pads to similar lengths (the encoder only
    # sorts within one call) and a first slow batch shows the worst case in the progress bar.
    unique = sorted(dict.fromkeys(d.dense or d.text for d in todo), key=len, reverse=True)
    vectors: dict[str, np.ndarray] = {}
    for start in range(0, len(unique), EMBED_BATCH):
        chunk = unique[start:start + EMBED_BATCH]
        vectors.update(zip(chunk, embeddings.embed(chunk), strict=True))
        if on_progress:
            on_progress(len(chunk))
    for d in todo:
        d.vector = vectors[d.dense or d.text]


def drafts_write(*, user: Any, persona: Any, conversation: Conversation, drafts: Sequence[Draft],
                 vectors_later: bool = False) -> list[Memory]:
    """Store the drafts (inside the caller's transaction); returns the items created.

    A turn that got its episodic item meanwhile (another worker) is skipped
    whole; a semantic fact already stored for this pair only gains the source.
    ``vectors_later``: a draft without a vector is stored without one (found by its words until
    :func:`vectors_fill` embeds it) instead of being embedded here.
    """
    if not drafts:
        return []
    message_ids = {d.message.pk for d in drafts if d.layer == Memory.Layer.EPISODIC}
    done = set(Memory.objects.filter(layer=Memory.Layer.EPISODIC, message_id__in=message_ids, persona=persona)
               .values_list("message_id", flat=True))
    gone = set(Message.objects.filter(pk__in={d.message.pk for d in drafts}).filter(
        ~Q(deleted=False, is_active=True)).values_list("pk", flat=True))
    drafts = [d for d in drafts if d.message.pk not in done and d.message.pk not in gone]
    slots = {d.slot for d in drafts if d.layer == Memory.Layer.SEMANTIC and d.slot}
    existing: dict[str, Memory] = {}
    if slots:
        for m in Memory.objects.filter(user=user, persona=persona, layer=Memory.Layer.SEMANTIC, slot__in=slots):
            existing.setdefault(m.slot, m)
    rows: list[Memory] = []
    row_sources: list[list[Message]] = []
    extra_sources: list[tuple[Memory, Message]] = []
    for d in drafts:
        if d.layer == Memory.Layer.SEMANTIC and d.slot in existing:
            extra_sources.append((existing[d.slot], d.message))
            continue
        vector = d.vector if d.vector is not None or vectors_later else embeddings.embed_one(d.dense or d.text)
        row = Memory(
            user=user, persona=persona, conversation=conversation, text=d.text, kind=d.kind, layer=d.layer,
            importance=float(min(1.0, max(0.0, d.importance))), slot=d.slot[:120], message=d.message,
            speaker=d.speaker[:120], embedding=None if vector is None else embeddings.to_bytes(vector),
            created_at=d.created_at or
            d.message.created_at, ended_at=d.ended_at,
        )
        rows.append(row)
        row_sources.append(d.sources or [d.message])
        if d.layer == Memory.Layer.SEMANTIC and d.slot:
            existing[d.slot] = row
    created = Memory.objects.bulk_create(rows)
    through = Memory.source_messages.through
    links = [through(memory_id=row.pk, message_id=m.pk) for row, sources in zip(created, row_sources, strict=True)
             for m in sources]
    links += [through(memory_id=row.pk, message_id=m.pk) for row, m in extra_sources if row.pk]
    through.objects.bulk_create(links, ignore_conflicts=True)
    if created or extra_sources:
        pair_invalidate(getattr(user, "pk", user), getattr(persona, "pk", persona))
    return created


FILL_BATCH = 256


def vectors_fill(*, conversation: Conversation, on_progress: Callable[[int], None] | None = None,
                 known: Mapping[str, np.ndarray] | None = None) -> int:
    """Embed the episodic items of ``conversation`` stored without a vector (an import's, see
    ``importer.chat_import``); returns how many were filled.

    Each turn embeds what ``drafts_for_turns`` would have embedded (``episode_dense``, with the turn
    before it). Each distinct text once: a stock line said twenty times, or a one-sentence turn whose
    fact the import's first phase embedded already (``known``: text -> vector), is not encoded again.
    Longest first over the whole conversation (each encoder batch pads to similar lengths), FILL_BATCH
    texts at a time with no transaction open, then one short update of the items they complete; the
    pair's index moves after each batch, so recall by meaning grows while this runs. An item deleted
    meanwhile is simply not updated.
    """
    pending = list(Memory.objects.filter(conversation=conversation, layer=Memory.Layer.EPISODIC,
                                         embedding__isnull=True, message__isnull=False)
                   .select_related("message").order_by("message__seq"))
    if not pending:
        return 0
    last_seq = pending[-1].message.seq
    previous_of: dict[int, Message | None] = {}
    previous = None
    for turn in conversation.messages.filter(TEXT_TURN, seq__lte=last_seq).exclude(content="").order_by("seq"):
        previous_of[turn.pk] = previous
        previous = turn
    waiting: dict[str, list[Memory]] = {}
    for m in pending:
        text = episode_dense(m.message, previous_of.get(m.message_id)) if semantic.content_words(
            m.message.content or "") else ""
        waiting.setdefault(text, []).append(m)
    vectors: dict[str, np.ndarray] = {"": ZERO}  # no content word: nothing to find by meaning
    vectors.update((t, v) for t, v in (known or {}).items() if t in waiting)
    todo = sorted((t for t in waiting if t not in vectors), key=len, reverse=True)
    filled = 0
    for texts in [list(vectors), *(todo[i:i + FILL_BATCH] for i in range(0, len(todo), FILL_BATCH))]:
        if texts[0] not in vectors:
            vectors.update(zip(texts, embeddings.embed(texts), strict=True))
        done = _vectors_store(conversation, [(embeddings.to_bytes(vectors[t]), m.pk) for t in texts
                                             for m in waiting.get(t, [])])
        filled += done
        if on_progress and done:
            on_progress(done)
    return filled


def _vectors_store(conversation: Conversation, rows: list[tuple[bytes, int]]) -> int:
    """Write (vector, item id) rows in one short transaction (one UPDATE per row through executemany:
    bulk_update's CASE statement cost ~40x more to build); returns how many."""
    if not rows:
        return 0
    qn = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {qn(Memory._meta.db_table)} SET {qn('embedding')} = %s WHERE {qn('id')} = %s",
                           rows)
    pair_invalidate(conversation.owner_id, conversation.persona_id)
    return len(rows)
