"""Reads of conversations and messages, always scoped to their owner."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery

from companion.chat.models import Conversation, Message


def _visible_messages() -> QuerySet[Message]:
    return Message.objects.filter(deleted=False, is_active=True).exclude(status=Message.Status.STREAMING)


def conversation_list_for(*, user: Any, archived: bool = False) -> QuerySet[Conversation]:
    """The user's conversations, newest activity first, each annotated with
    ``last_preview`` (text of the last visible message) for the list view."""
    last = _visible_messages().filter(conversation=OuterRef("pk")).order_by("-seq")
    return (
        Conversation.objects.filter(owner=user, archived=archived)
        .select_related("persona")
        .annotate(last_preview=Subquery(last.values("content")[:1]))
        .order_by("-updated_at")
    )


def conversation_get_for(*, user: Any, conversation_id: int) -> Conversation | None:
    """The conversation if ``user`` owns it; None for anyone else (or no such id)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return Conversation.objects.select_related("persona", "owner").filter(pk=conversation_id, owner=user).first()


def message_get_in(*, conversation: Conversation, message_id: Any) -> Message | None:
    """A message of this conversation; None when the id belongs elsewhere."""
    try:
        message_id = int(message_id)
    except (TypeError, ValueError):
        return None
    return conversation.messages.filter(pk=message_id).first()


def messages_after(*, conversation: Conversation, after_seq: int, limit: int = 500) -> list[Message]:
    """Rows changed after ``after_seq`` (new, finished, edited, deleted), oldest change first.

    Rows still streaming are always included: their text is persisted without a
    changed_seq bump while it grows, so a reconnecting client needs them even
    if it saw their creation.
    """
    qs = (
        conversation.messages.filter(Q(changed_seq__gt=after_seq) | Q(status=Message.Status.STREAMING))
        .select_related("parent")
        .order_by("changed_seq", "seq")
    )
    return list(qs[:limit])


def messages_page(*, conversation: Conversation, before_seq: int | None = None, limit: int = 50) -> list[Message]:
    """Visible history by seq (newest ``limit`` before ``before_seq``), oldest first."""
    qs = conversation.messages.filter(deleted=False).select_related("parent")
    if before_seq is not None:
        qs = qs.filter(seq__lt=before_seq)
    return list(reversed(qs.order_by("-seq")[:limit]))


def alternatives_map(messages: Iterable[Message]) -> dict[int, list[int]]:
    """{slot root id: [version ids by seq]} for the reply slots among ``messages`` (one query)."""
    roots = {m.parent_id or m.pk for m in messages if m.role == Message.Role.PERSONA}
    if not roots:
        return {}
    found: dict[int, list[int]] = defaultdict(list)
    rows = (
        Message.objects.filter(Q(pk__in=roots) | Q(parent_id__in=roots), deleted=False)
        .order_by("seq")
        .values_list("pk", "parent_id")
    )
    for pk, parent_id in rows:
        found[parent_id or pk].append(pk)
    return dict(found)


def last_message_preview(*, conversation: Conversation) -> Message | None:
    return _visible_messages().filter(conversation=conversation).order_by("-seq").first()
