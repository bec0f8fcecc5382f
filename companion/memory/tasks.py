"""Dramatiq actors: memory work runs off the request path (queue "default").

Thin: they look rows up by id and call a service. On the embedded default the
broker is in-process (StubBroker + worker threads), in production Redis.
"""

from __future__ import annotations

import dramatiq

from companion.chat.models import Conversation, Message
from companion.memory.pipeline import exchange_process_ids, memory_reprocess_edited, memory_sync_turns
from companion.memory.recall_index import pair_index
from companion.memory.reconciler import use_llm_extraction
from companion.memory.sessions import sessions_update
from companion.memory.summaries import summary_update

MEMORY_TIME_LIMIT_MS = 5 * 60 * 1000


@dramatiq.actor(queue_name="default", max_retries=2, time_limit=MEMORY_TIME_LIMIT_MS)
def process_exchange(conversation_id: int, user_message_id: int | None, reply_message_id: int | None) -> None:
    """Extract memories, update the relationship, then fold history if it overflows."""
    exchange_process_ids(
        conversation_id=conversation_id, user_message_id=user_message_id, reply_message_id=reply_message_id
    )
    update_summary.send(conversation_id)


@dramatiq.actor(queue_name="default", max_retries=1, time_limit=MEMORY_TIME_LIMIT_MS)
def update_summary(conversation_id: int) -> None:
    conversation = Conversation.objects.select_related("owner", "persona").filter(pk=conversation_id).first()
    if conversation is not None:
        summary_update(conversation=conversation, use_llm=use_llm_extraction())
        sessions_update(conversation=conversation, use_llm=use_llm_extraction())
        _warm_index(conversation)


def _warm_index(conversation: Conversation) -> None:
    """Rebuild the pair's retrieval index now, in the worker, so the next reply's prompt finds it ready
    (in-process worker: same process; a separate worker process only warms its own copy)."""
    pair_index(conversation.owner_id, conversation.persona_id)


@dramatiq.actor(queue_name="default", max_retries=2, time_limit=MEMORY_TIME_LIMIT_MS)
def sync_turns(conversation_id: int) -> None:
    """A turn was deleted or another alternative was chosen: index what is new, forget what is gone."""
    conversation = Conversation.objects.select_related("owner", "persona").filter(pk=conversation_id).first()
    if conversation is not None:
        memory_sync_turns(conversation=conversation)
        update_summary.send(conversation_id)


@dramatiq.actor(queue_name="default", max_retries=2, time_limit=MEMORY_TIME_LIMIT_MS)
def reprocess_edited(conversation_id: int, message_id: int) -> None:
    """The user edited a message: memory forgets its old text and reads the new one."""
    message = Message.objects.select_related("conversation__owner", "conversation__persona").filter(
        pk=message_id, conversation_id=conversation_id
    ).first()
    if message is not None:
        memory_reprocess_edited(conversation=message.conversation, message=message)
        update_summary.send(conversation_id)
