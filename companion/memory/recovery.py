"""Memory work that a stopped process never finished is found again at start-up.

An exchange is marked done (``RelationshipState.last_user_message_id``) in the
same transaction that stores its memories, so "not done" is exactly "the
user message is newer than the mark". On the embedded default the in-process
queue is lost with the process (a kill -9 two seconds after a reply), so
``serve`` calls ``memory_requeue_unfinished`` as it does the render sweep.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Exists, OuterRef

from companion.chat.models import Conversation, Message
from companion.memory.models import RelationshipState
from companion.memory.tasks import process_exchange


def unfinished_exchanges() -> list[tuple[int, int, int | None]]:
    """(conversation id, user message id, reply id) of every answered exchange memory has not read, oldest first."""
    found: list[tuple[int, int, int | None]] = []
    answered = Message.objects.filter(
        conversation_id=OuterRef("conversation_id"), role=Message.Role.PERSONA, kind=Message.Kind.TEXT,
        status=Message.Status.COMPLETE, deleted=False, seq__gt=OuterRef("seq"),
    )
    for conversation in Conversation.objects.select_related("owner", "persona"):
        state = RelationshipState.objects.filter(user=conversation.owner, persona=conversation.persona).first()
        done_up_to = state.last_user_message_id if state and state.last_user_message_id else 0
        pending = (
            conversation.messages.filter(role=Message.Role.USER, deleted=False, pk__gt=done_up_to)
            .filter(Exists(answered)).order_by("seq")
        )
        for message in pending:
            reply = conversation.messages.filter(
                role=Message.Role.PERSONA, kind=Message.Kind.TEXT, status=Message.Status.COMPLETE,
                deleted=False, is_active=True, seq__gt=message.seq,
            ).order_by("seq").values_list("pk", flat=True).first()
            found.append((conversation.pk, message.pk, reply))
    return found


def memory_requeue_unfinished(*, send: Callable[[int, int, int | None], object] | None = None) -> int:
    """Enqueue every unfinished exchange (oldest first); returns how many."""
    send = send or process_exchange.send
    pending = unfinished_exchanges()
    for conversation_id, user_message_id, reply_id in pending:
        send(conversation_id, user_message_id, reply_id)
    return len(pending)
