"""Import a SillyTavern chat as a conversation, then build memory from it.

1. Messages are stored in one bulk insert (one conversation, original dates
   parsed by ``dates.parse_datetime``, ``extra`` kept): ``messages_store``.
2. Every turn of both speakers is indexed with the same drafts the live
   chat writes (``indexing.drafts_for_turns``: episodic + semantic items,
   named after the speakers in the file); the facts are embedded in batches
   with no transaction open, then everything is written in short
   transactions of a few hundred turns.
3. Every user message is replayed in order (slot rules, relationship,
   milestones), as if the chat had happened: ``replay.exchanges_replay`` runs
   ``pipeline.exchange_process``'s rules on in-memory copies and writes them in
   bulk every few hundred exchanges (the same result; exchange by exchange
   through ``exchange_process`` itself with the model or in a group scene).
   The turns are already indexed, so it only counts exchanges (the rules'
   texts are embedded a chunk of turns at a time beforehand).
4. The session layer (``sessions.sessions_update``) and the rolling summary.
Steps 3-4 and the turns' own vectors (``indexing.vectors_fill``) are the
second phase, ``import_finish``: the encoder and the replay are most of an
import's cost, and once step 2 is done the chat is there and every turn is
found by its words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from companion.chat.models import Conversation, Message
from companion.chat.scene import witness_views, witnessed
from companion.memory.indexing import Names, drafts_embed, drafts_for_turns, drafts_write, vectors_fill
from companion.memory.models import Memory, RelationshipState
from companion.memory.pipeline import exchange_process
from companion.memory.replay import ReplayConflict, exchanges_replay, replay_walk
from companion.memory.sessions import sessions_update
from companion.memory.sillytavern import ParsedChat, message_extra
from companion.memory.summaries import summary_update

WRITE_CHUNK_TURNS = 400
STORE_BATCH = 500

Progress = Callable[[int], None]


@dataclass
class ImportResult:
    conversation: Conversation
    imported: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    memories_added: int = 0
    milestones: int = 0
    items_indexed: int = 0  # episodic + semantic items
    sessions: int = 0
    vectors_filled: int = 0  # turns embedded by vectors_fill
    # What the first phase embedded (text -> vector): a turn that says just what its fact says reuses it.
    embedded: dict[str, Any] = field(default_factory=dict, repr=False)


def chat_import(
    *,
    chat: ParsedChat,
    user: Any,
    persona: Any,
    use_llm: bool = False,
    on_stored: Progress | None = None,
    on_processed: Progress | None = None,
    summarize: bool = True,
    on_indexed: Progress | None = None,
    finish: bool = True,
) -> ImportResult:
    """Store the parsed chat as a new conversation of ``user`` with ``persona``, then build memory.

    ``finish=False`` returns after the first phase: messages with their dates, every turn and fact
    stored and found by its words. The caller then runs :func:`import_finish` (the command does, right
    after, timing both); the chat can be used meanwhile."""
    title = str(chat.header.get("chat_metadata", {}).get("name") or "") if isinstance(
        chat.header.get("chat_metadata"), dict) else ""
    conversation = Conversation.objects.create(
        owner=user, persona=persona, title=(title or f"{persona.name} (imported)")[:200]
    )
    result = ImportResult(conversation=conversation, errors=list(chat.errors))
    stored = messages_store(conversation=conversation, chat=chat)
    if on_stored:
        on_stored(len(stored))
    result.imported = len(stored)

    # The episodic and semantic layers, for every turn at once.
    names = _file_names(conversation, chat.header)
    turns = [m for m in stored if m.role in (Message.Role.USER, Message.Role.PERSONA) and (m.content or "").strip()]
    drafts = drafts_for_turns(conversation=conversation, turns=turns, names=names)
    # Facts now (the replay's reconciler compares the rules' facts with them by vector); the turns'
    # own vectors in ``import_finish``: until then a turn is found by its words.
    facts = [d for d in drafts if d.layer != Memory.Layer.EPISODIC]
    drafts_embed(facts)
    result.embedded = {d.dense or d.text: d.vector for d in facts if d.vector is not None}
    by_message: dict[int, list] = {}
    for d in drafts:
        by_message.setdefault(d.message.pk, []).append(d)
    for start in range(0, len(turns), WRITE_CHUNK_TURNS):
        chunk = [d for m in turns[start:start + WRITE_CHUNK_TURNS] for d in by_message.get(m.pk, [])]
        with transaction.atomic():
            result.items_indexed += len(drafts_write(user=user, persona=persona, conversation=conversation,
                                                     drafts=chunk, vectors_later=True))
    if finish:
        import_finish(conversation=conversation, result=result, use_llm=use_llm, summarize=summarize,
                      on_processed=on_processed, on_indexed=on_indexed)
    return result


def _file_names(conversation: Conversation, header: Any) -> Names:
    """The speakers' names as the file has them (its header; each line's own name wins, see Names)."""
    header = header if isinstance(header, dict) else {}
    default = Names.for_conversation(conversation)
    return Names(user=str(header.get("user_name") or default.user),
                 persona=str(header.get("character_name") or default.persona))


def import_finish(*, conversation: Conversation, result: ImportResult | None = None, use_llm: bool = False,
                  summarize: bool = True, on_processed: Progress | None = None,
                  on_indexed: Progress | None = None) -> ImportResult:
    """The second phase of an import: the turns' vectors, the replayed exchanges, the sessions.

    Each step resumes where it stopped (turns without a vector, exchanges after the relationship's
    last counted message, sessions without a summary), so running it again finishes an
    interrupted import and does nothing after a complete one.
    """
    result = result or ImportResult(conversation=conversation)
    first = conversation.messages.order_by("seq").first()
    names = _file_names(conversation, (first.extra or {}).get("st_header") if first else None)
    result.vectors_filled = vectors_fill(conversation=conversation, on_progress=on_indexed, known=result.embedded)

    stored = list(conversation.messages.order_by("seq"))
    if not use_llm and _one_listener(conversation, stored):
        try:
            added, made = exchanges_replay(conversation=conversation, turns=stored, names=names,
                                           on_processed=on_processed)
            result.memories_added += added
            result.milestones += made
        except ReplayConflict:
            # A live chat with this persona wrote the pair's memory meanwhile: what the replay wrote stays,
            # the rest goes exchange by exchange (which takes the row lock for each).
            _replay_each(conversation=conversation, stored=stored, names=names, result=result, use_llm=use_llm)
    else:
        _replay_each(conversation=conversation, stored=stored, names=names, result=result, use_llm=use_llm,
                     on_processed=on_processed)
    if summarize:
        result.sessions = len(sessions_update(conversation=conversation, use_llm=use_llm, names=names))
        summary_update(conversation=conversation, use_llm=use_llm)
    return result


def _one_listener(conversation: Conversation, stored: list[Message]) -> bool:
    """A one-persona conversation whose turns its persona heard: what ``exchanges_replay`` covers."""
    views = witness_views(conversation)
    pid = conversation.persona_id
    return len(views) == 1 and all(witnessed(m, pid, pid) for m in stored if m.role == Message.Role.USER)


def _replay_each(*, conversation: Conversation, stored: list[Message], names: Names, result: ImportResult,
                 use_llm: bool, on_processed: Progress | None = None) -> None:
    """Every user turn not counted yet through ``pipeline.exchange_process``, as the live chat runs it
    (the model's extraction, group scenes, or after a ReplayConflict)."""
    state = RelationshipState.objects.filter(user=conversation.owner, persona=conversation.persona).first()
    done_up_to = (state.last_user_message_id or 0) if state else 0
    for i, message, to_count in replay_walk(stored, done_up_to=done_up_to, names=names):
        if to_count:
            reply = next((r for r in stored[i + 1:i + 2] if r.role == Message.Role.PERSONA), None)
            outcome = exchange_process(conversation=conversation, user_message=message, reply_message=reply,
                                       use_llm=use_llm, index_turns=False)
            result.memories_added += len(outcome.report.added)
            result.milestones += len(outcome.milestones)
        if on_processed:
            on_processed(1)


def messages_store(*, conversation: Conversation, chat: ParsedChat) -> list[Message]:
    """Append the parsed messages to ``conversation`` in one transaction, with their original dates.

    One bulk insert instead of ``message_create`` per line (a row lock, a seq bump and a date update
    each: most of an import's database time). Seqs are taken under the conversation's row lock as
    ``message_create`` does; ``created_at`` is ``auto_now_add``, so the original dates are written by
    one bulk update after the insert. An unparseable date follows its predecessor by a second.
    """
    last_when = timezone.now() - timedelta(seconds=len(chat.messages) + 1)
    rows: list[Message] = []
    dated: list[datetime] = []
    for i, m in enumerate(chat.messages):
        role = Message.Role.USER if m.is_user else (Message.Role.SYSTEM if m.is_system else Message.Role.PERSONA)
        rows.append(Message(
            conversation=conversation, role=role, content=m.mes, status=Message.Status.COMPLETE,
            kind=Message.Kind.NOTICE if role == Message.Role.SYSTEM else Message.Kind.TEXT,
            extra=message_extra(m, header=chat.header if i == 0 else None),
        ))
        last_when = m.when or last_when + timedelta(seconds=1)
        dated.append(last_when)
    if not rows:
        return []
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        for n, row in enumerate(rows, start=locked.last_seq + 1):
            row.seq = row.changed_seq = n
        locked.last_seq += len(rows)
        locked.save(update_fields=["last_seq", "updated_at"])
        conversation.last_seq = locked.last_seq
        stored = Message.objects.bulk_create(rows, batch_size=STORE_BATCH)
        for row, when in zip(stored, dated, strict=True):
            row.created_at = when
        # One UPDATE per row through executemany: bulk_update's CASE statement took ~0.15 s per 800 rows.
        column = Message._meta.get_field("created_at")
        qn = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {qn(Message._meta.db_table)} SET {qn(column.column)} = %s WHERE {qn('id')} = %s",
                [(column.get_db_prep_value(row.created_at, connection), row.pk) for row in stored])
    return stored


def read_lines(path: str) -> Iterable[str]:
    with open(path, encoding="utf-8") as fh:
        yield from fh
