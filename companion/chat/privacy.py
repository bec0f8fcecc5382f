"""Chat's part of the privacy export and account deletion (registered in ChatConfig.ready)."""

from __future__ import annotations

from typing import Any

from companion.accounts.privacy import FileRef, PrivacyPart, privacy_part_register
from companion.chat.models import Conversation, Message
from companion.chat.serializers import PRIVATE_EXTRA_KEYS


def _message(m: Message) -> dict[str, Any]:
    """A message as its user wrote or saw it: never the prompt it was generated from.

    ``extra["prompt"]`` holds the assembled prompt, whose system text is the persona creator's
    hidden system prompt and card; the export leaves out what the chat API leaves out
    (PRIVATE_EXTRA_KEYS).
    """
    extra = {k: v for k, v in (m.extra or {}).items() if k not in PRIVATE_EXTRA_KEYS}
    return {
        "id": m.pk, "seq": m.seq, "role": m.role, "kind": m.kind, "content": m.content, "status": m.status,
        "created_at": m.created_at, "edited": m.changed_seq != m.seq, "deleted": m.deleted,
        "active": m.is_active, "parent_id": m.parent_id, "extra": extra,
    }


def _conversations_export(user: Any) -> list[dict[str, Any]]:
    return [
        {"id": conv.pk, "title": conv.title, "persona": conv.persona.name, "persona_slug": conv.persona.slug,
         "archived": conv.archived, "created_at": conv.created_at,
         "messages": [_message(m) for m in conv.messages.order_by("seq")]}
        for conv in Conversation.objects.filter(owner=user).select_related("persona").order_by("created_at")
    ]


def _conversations_delete(user: Any, files: list[FileRef]) -> int:
    # Messages, summaries, the memories still pointing at them and the Clip links go with them.
    return Conversation.objects.filter(owner=user).delete()[0]


def chat_privacy_register() -> None:
    privacy_part_register(PrivacyPart(
        "conversations", "every conversation with every message", _conversations_export,
        _conversations_delete, delete_order=30,
    ))
