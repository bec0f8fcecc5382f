"""Reads of conversations and messages, always scoped to their owner."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
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


# --- branches ------------------------------------------------------------------------

BRANCH_SNIPPET_CHARS = 80


@dataclass(frozen=True)
class BranchNode:
    """One conversation of a branch tree: ``depth`` 0 is the root; ``branched_from`` is the parent's
    message it branched after (None for the root, or once that message is gone or deleted)."""

    conversation: Conversation
    depth: int
    branched_from: Message | None

    @property
    def snippet(self) -> str:
        text = " ".join((self.branched_from.content if self.branched_from else "").split())
        return text if len(text) <= BRANCH_SNIPPET_CHARS else text[: BRANCH_SNIPPET_CHARS - 1] + "…"


def conversation_branch_tree(*, user: Any, conversation: Conversation) -> list[BranchNode]:
    """The tree ``conversation`` belongs to, root first, each branch under its parent (oldest first).

    Only ``user``'s conversations: a tree never crosses owners. One query per level.
    """
    root, seen = conversation, {conversation.pk}
    while root.parent_id and root.parent_id not in seen:
        parent = Conversation.objects.filter(pk=root.parent_id, owner=user).first()
        if parent is None:
            break
        root = parent
        seen.add(root.pk)
    children: dict[int, list[Conversation]] = defaultdict(list)
    known, level = {root.pk}, [root.pk]
    while level:
        rows = [
            c for c in Conversation.objects.filter(owner=user, parent_id__in=level)
            .select_related("branched_from").order_by("created_at", "pk")
            if c.pk not in known
        ]
        for c in rows:
            children[c.parent_id].append(c)
            known.add(c.pk)
        level = [c.pk for c in rows]
    nodes: list[BranchNode] = []

    def walk(node: Conversation, depth: int) -> None:
        point = node.branched_from if depth else None
        nodes.append(BranchNode(node, depth, None if point is None or point.deleted else point))
        for child in children[node.pk]:
            walk(child, depth + 1)

    walk(root, 0)
    return nodes
