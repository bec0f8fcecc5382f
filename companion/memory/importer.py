"""Import a SillyTavern chat as a conversation, then replay it through memory.

Messages are stored first (one conversation, original dates and ``extra``
kept), then every user message is run through the same
``pipeline.exchange_process`` the live chat uses, in order, so memory,
relationship and milestones come out as if the chat had happened.
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
from companion.memory.pipeline import exchange_process
from companion.memory.sillytavern import ParsedChat, message_extra

Progress = Callable[[int], None]


@dataclass
class ImportResult:
    conversation: Conversation
    imported: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    memories_added: int = 0
    milestones: int = 0


def chat_import(
    *,
    chat: ParsedChat,
    user: Any,
    persona: Any,
    use_llm: bool = False,
    on_stored: Progress | None = None,
    on_processed: Progress | None = None,
    summarize: bool = True,
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

    for i, message in enumerate(stored):
        if message.role == Message.Role.USER:
            reply = next((r for r in stored[i + 1:i + 2] if r.role == Message.Role.PERSONA), None)
            outcome = exchange_process(conversation=conversation, user_message=message, reply_message=reply,
                                       use_llm=use_llm)
            result.memories_added += len(outcome.report.added)
            result.milestones += len(outcome.milestones)
        if on_processed:
            on_processed(1)
    if summarize:
        from companion.memory.summaries import summary_update

        summary_update(conversation=conversation, use_llm=use_llm)
    return result


def read_lines(path: str) -> Iterable[str]:
    with open(path, encoding="utf-8") as fh:
        yield from fh
