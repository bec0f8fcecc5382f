"""Signal receivers: enqueue memory work after an exchange; keep the retrieval cache fresh."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from companion.chat.models import Message
from companion.chat.signals import exchange_completed, message_edited
from companion.memory.models import Memory
from companion.memory.recall_index import pair_invalidate
from companion.memory.tasks import process_exchange, reprocess_edited, sync_turns

log = logging.getLogger(__name__)


@receiver(exchange_completed, dispatch_uid="memory.enqueue_exchange")
def enqueue_exchange(sender: Any, *, conversation: Any, user_message: Any, reply_message: Any, **_: Any) -> None:
    args = (conversation.pk, getattr(user_message, "pk", None), getattr(reply_message, "pk", None))
    # After commit: the worker must see the rows this exchange wrote.
    transaction.on_commit(lambda: process_exchange.send(*args))


@receiver(message_edited, dispatch_uid="memory.reprocess_edited")
def enqueue_edited(sender: Any, *, conversation: Any, message: Any, **_: Any) -> None:
    args = (conversation.pk, message.pk)
    transaction.on_commit(lambda: reprocess_edited.send(*args))


@receiver(post_save, sender=Memory, dispatch_uid="memory.invalidate_on_save")
@receiver(post_delete, sender=Memory, dispatch_uid="memory.invalidate_on_delete")
def invalidate_index(sender: Any, instance: Memory, **_: Any) -> None:
    pair_invalidate(instance.user_id, instance.persona_id)


@receiver(post_save, sender=Message, dispatch_uid="memory.turn_changed")
def turn_changed(sender: Any, instance: Message, created: bool, update_fields: Any = None, **_: Any) -> None:
    """A turn deleted, or another alternative shown: memory forgets/learns it (after commit, in the worker).

    Only saves that name ``deleted`` or ``is_active`` (chat.services._bump) count; edits of the
    text come through ``message_edited``, new turns through ``exchange_completed``.
    """
    if created or not update_fields or not ({"deleted", "is_active"} & set(update_fields)):
        return

    conversation_id = instance.conversation_id
    transaction.on_commit(lambda: sync_turns.send(conversation_id))
