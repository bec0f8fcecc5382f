"""Reads the REST API needs beyond the chat selectors."""

from __future__ import annotations

from companion.chat.models import Conversation, Message


def messages_changed_after(*, conversation: Conversation, after_seq: int, limit: int) -> tuple[list[Message], bool]:
    """Up to ``limit`` rows whose changed_seq is past the cursor, oldest change first, and whether more remain.

    Unlike ``chat.selectors.messages_after`` (history.sync), streaming rows are
    not repeated on every page: a pure cursor, so paging always terminates.
    """
    rows = list(
        conversation.messages.filter(changed_seq__gt=after_seq).select_related("parent").order_by("changed_seq")[
            : limit + 1
        ]
    )
    return rows[:limit], len(rows) > limit
