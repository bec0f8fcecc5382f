"""Import a SillyTavern chat as a conversation, then build memory from it.

1. Messages are stored (one conversation, original dates parsed by
   ``dates.parse_datetime`` and ``extra`` kept).
2. Every turn of both speakers is indexed with the same drafts the live
   chat writes (``indexing.drafts_for_turns``: episodic + semantic items,
   named after the speakers in the file), embedded in batches with no
   transaction open, then written in short transactions of a few hundred
   turns.
3. Every user message is replayed through ``pipeline.exchange_process``
   (slot rules, relationship, milestones) in order, as if the chat had
   happened; the turns are already indexed, so it only counts exchanges.
4. The session layer (``sessions.sessions_update``) and the rolling summary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from companion.chat.models import Conversation, Message
from companion.chat.services import message_create
from companion.memory.indexing import Names, drafts_embed, drafts_for_turns, drafts_write
from companion.memory.pipeline import exchange_process
from companion.memory.sessions import sessions_update
from companion.memory.sillytavern import ParsedChat, message_extra
from companion.memory.summaries import summary_update

WRITE_CHUNK_TURNS = 400

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
) -> ImportResult:
    """Store the parsed chat as a new conversation of ``user`` with ``persona``, then build memory."""
    title = str(chat.header.get("chat_metadata", {}).get("name") or "") if isinstance(
        chat.header.get("chat_metadata"), dict) else ""
    conversation = Conversation.objects.create(
        owner=user, persona=persona, title=(title or f"{persona.name} (imported)")[:200]
    )
    result = ImportResult(conversation=conversation, errors=list(chat.errors))
    last_when = timezone.now() - timedelta(seconds=len(chat.messages) + 1)
    stored: list[Message] = []
    with transaction.atomic():
        for i, m in enumerate(chat.messages):
            role = Message.Role.USER if m.is_user else (Message.Role.SYSTEM if m.is_system else Message.Role.PERSONA)
            message = message_create(
                conversation=conversation, role=role,
                kind=Message.Kind.NOTICE if role == Message.Role.SYSTEM else Message.Kind.TEXT,
                content=m.mes, status=Message.Status.COMPLETE,
                extra=message_extra(m, header=chat.header if i == 0 else None),
            )
            # Dates: the original send_date; an unparseable one follows its predecessor.
            when = m.when or last_when + timedelta(seconds=1)
            last_when = when
            Message.objects.filter(pk=message.pk).update(created_at=when)
            message.created_at = when
            stored.append(message)
            if on_stored:
                on_stored(1)
    result.imported = len(stored)

    # The episodic and semantic layers, for every turn at once.
    header = chat.header if isinstance(chat.header, dict) else {}
    default = Names.for_conversation(conversation)
    names = Names(user=str(header.get("user_name") or default.user), persona=str(header.get("character_name")
                                                                                 or default.persona))
    turns = [m for m in stored if m.role in (Message.Role.USER, Message.Role.PERSONA) and (m.content or "").strip()]
    drafts = drafts_for_turns(conversation=conversation, turns=turns, names=names)
    drafts_embed(drafts, on_progress=on_indexed)
    by_message: dict[int, list] = {}
    for d in drafts:
        by_message.setdefault(d.message.pk, []).append(d)
    for start in range(0, len(turns), WRITE_CHUNK_TURNS):
        chunk = [d for m in turns[start:start + WRITE_CHUNK_TURNS] for d in by_message.get(m.pk, [])]
        with transaction.atomic():
            result.items_indexed += len(drafts_write(user=user, persona=persona, conversation=conversation,
                                                     drafts=chunk))

    for i, message in enumerate(stored):
        if message.role == Message.Role.USER:
            reply = next((r for r in stored[i + 1:i + 2] if r.role == Message.Role.PERSONA), None)
            outcome = exchange_process(conversation=conversation, user_message=message, reply_message=reply,
                                       use_llm=use_llm, index_turns=False)
            result.memories_added += len(outcome.report.added)
            result.milestones += len(outcome.milestones)
        if on_processed:
            on_processed(1)
    if summarize:

        result.sessions = len(sessions_update(conversation=conversation, use_llm=use_llm, names=names))
        summary_update(conversation=conversation, use_llm=use_llm)
    return result


def read_lines(path: str) -> Iterable[str]:
    with open(path, encoding="utf-8") as fh:
        yield from fh
