"""Streaming one persona reply: prompt → backend → deltas to the group → final row.

``reply_stream`` runs as an asyncio task owned by the websocket connection that
asked for it. Whatever happens, the reply row ends in a final state with the
text generated so far kept:

- the backend finishes           → ``complete`` (+ ``exchange_completed`` signal)
- the backend raises mid-stream  → ``failed``, an ``error`` frame to the requester
- the task is cancelled (socket
  closed, ``message.stop``)      → ``interrupted``

and every socket on the conversation gets ``message.delta`` frames while it
grows and one ``message.done`` with the final row.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from companion.chat import services
from companion.chat.groups import conversation_broadcast
from companion.chat.models import Conversation, Message
from companion.chat.prompt import PromptBuild, prompt_build
from companion.chat.serializers import message_payload
from companion.chat.signals import exchange_completed
from companion.llm.base import BackendError, ChatBackend, SamplingParams

logger = logging.getLogger(__name__)

SAVE_EVERY_S = 0.5  # persist the growing text this often (bounded loss on a crash)
HEARTBEAT_S = 10.0  # touch the row this often even without new text (see STALE_STREAM_S)

ErrorSink = Callable[[str, str], Awaitable[None]]


def _build(conversation_id: int, reply_id: int, backend: ChatBackend) -> tuple[Conversation, PromptBuild]:
    conversation = Conversation.objects.select_related("persona", "owner").get(pk=conversation_id)
    reply = Message.objects.select_related("parent").get(pk=reply_id)
    position = reply.parent.seq if reply.parent_id else reply.seq
    build = prompt_build(
        conversation=conversation,
        backend=backend,
        budget_tokens=settings.CHAT_PROMPT_TOKEN_BUDGET,
        before_seq=position,
    )
    return conversation, build


def _finish(reply_id: int, **fields: Any) -> dict[str, Any]:
    return message_payload(services.reply_finish(message_id=reply_id, **fields))


def _send_completed(conversation_id: int, reply_id: int) -> None:
    reply = Message.objects.select_related("conversation", "parent").get(pk=reply_id)
    position = reply.parent.seq if reply.parent_id else reply.seq
    user_message = (
        reply.conversation.messages.filter(role=Message.Role.USER, deleted=False, seq__lt=position)
        .order_by("-seq")
        .first()
    )
    results = exchange_completed.send_robust(
        sender=Message, conversation=reply.conversation, user_message=user_message, reply_message=reply
    )
    for receiver, result in results:
        if isinstance(result, Exception):
            logger.error("exchange_completed receiver %r failed", receiver, exc_info=result)


def sampling_for(persona: Any, *, user_name: str) -> SamplingParams:
    return SamplingParams(
        temperature=persona.temperature,
        max_tokens=settings.CHAT_REPLY_MAX_TOKENS,
        stop=(f"\n{user_name}:",),
    )


async def reply_stream(
    *, conversation_id: int, reply_id: int, backend: ChatBackend, on_error: ErrorSink | None = None
) -> str:
    """Generate reply ``reply_id`` (a ``streaming`` row); returns its final status."""
    parts: list[str] = []
    length = 0
    status = Message.Status.COMPLETE
    error = error_detail = ""
    build: PromptBuild | None = None
    stream = None
    saving: asyncio.Future | None = None
    cancelled = False
    try:
        conversation, build = await database_sync_to_async(_build)(conversation_id, reply_id, backend)
        persona = conversation.persona
        stream = backend.stream(
            build.turns,
            params=sampling_for(persona, user_name=build.user_name),
            adapter=persona.llm_adapter or None,
        )
        last_save = time.monotonic()
        saved_length = 0
        async for delta in stream:
            if not delta:
                continue
            frame = {"type": "message.delta", "message_id": reply_id, "text": delta, "offset": length}
            parts.append(delta)
            length += len(delta)
            await conversation_broadcast(conversation_id, frame)
            now = time.monotonic()
            due = (now - last_save >= SAVE_EVERY_S and length != saved_length) or now - last_save >= HEARTBEAT_S
            # Saved in the background, one save in flight at most: the relay
            # never waits on the (shared, single) DB thread.
            if due and (saving is None or saving.done()):
                saving = asyncio.ensure_future(
                    database_sync_to_async(services.reply_save_progress)(message_id=reply_id, content="".join(parts))
                )
                last_save, saved_length = now, length
    except asyncio.CancelledError:
        status, cancelled = Message.Status.INTERRUPTED, True
    except BackendError as exc:
        status, error = Message.Status.FAILED, exc.code
        logger.warning("reply %s failed: %s", reply_id, exc)
        error_detail = str(exc)
    except Exception as exc:  # a bug must still leave the row final and the socket usable
        status, error = Message.Status.FAILED, "backend_error"
        logger.exception("reply %s crashed", reply_id)
        error_detail = f"{type(exc).__name__}: {exc}"
    finally:
        if stream is not None:
            await _close_quietly(stream)
        if saving is not None:  # let it land before the final write
            await asyncio.gather(saving, return_exceptions=True)

    fields: dict[str, Any] = {"content": "".join(parts), "status": status}
    if error:
        fields["error_detail"] = error_detail
    if build is not None:
        fields["extra"] = {"prompt": build.compact(), "backend": backend.name}
        fields["prompt_tokens"] = build.total_tokens
        fields["completion_tokens"] = backend.count_tokens(fields["content"]) if parts else 0
    # Shielded: a second cancel (socket closing as the reply ends) must not
    # leave the row in ``streaming``.
    payload = await asyncio.shield(database_sync_to_async(_finish)(reply_id, **fields))
    await conversation_broadcast(conversation_id, {"type": "message.done", "message": payload})
    if error and on_error is not None:
        await on_error(error, fields["error_detail"])
    if status == Message.Status.COMPLETE:
        await database_sync_to_async(_send_completed)(conversation_id, reply_id)
    if cancelled:
        raise asyncio.CancelledError
    return status


async def _close_quietly(stream: Any) -> None:
    """Close the backend's generator so it stops generating (frees the model)."""
    aclose = getattr(stream, "aclose", None)
    if aclose is None:
        return
    try:
        await aclose()
    except Exception:
        logger.debug("closing backend stream failed", exc_info=True)
