"""Dramatiq actors: memory work runs off the request path (queue "default").

Thin: they look rows up by id and call a service. On the embedded default the
broker is in-process (StubBroker + worker threads), in production Redis.
"""

from __future__ import annotations

import dramatiq

from companion.memory.pipeline import exchange_process_ids

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
    from companion.chat.models import Conversation
    from companion.memory.services import use_llm_extraction
    from companion.memory.summaries import summary_update

    conversation = Conversation.objects.select_related("owner", "persona").filter(pk=conversation_id).first()
    if conversation is not None:
        summary_update(conversation=conversation, use_llm=use_llm_extraction())
