"""The websocket endpoint ``/ws/conversations/<id>/`` (protocol: README "Websocket protocol").

Thin: parse a frame, authorise, call a service, broadcast the result. The
streaming itself is ``replies.reply_stream`` running as a task this
connection owns; closing the socket cancels it and the reply is kept as
``interrupted``.

For other apps' frame handlers (``companion.evolve.ws.handle_render_request``):
``consumer.user``, ``consumer.conversation``, ``await consumer.send_frame(dict)``,
``await consumer.send_error(code, detail)``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import OperationalError

from companion.accounts.sockets import auth_socket_groups
from companion.chat import protocol, selectors, services
from companion.chat.frames import frame_handler
from companion.chat.groups import GROUP_MESSAGE_TYPE as GROUP_FRAME_TYPE
from companion.chat.groups import (
    conversation_broadcast,
    conversation_group,
    local_join,
    local_leave,
    remember_server_loop,
)
from companion.chat.models import Conversation, Message
from companion.chat.ratelimit import chat_rate_exceeded, chat_rate_refund
from companion.chat.replies import reply_live_text, reply_start, reply_stop
from companion.chat.serializers import message_payload, messages_payload
from companion.chat.signals import message_edited
from companion.core import context
from companion.core.errors import ApplicationError
from companion.llm.guard import db_thread
from companion.llm.registry import get_backend

logger = logging.getLogger(__name__)


def _database_busy(exc: OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text

BUSY_RETRY_S = 0.5
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
STOP_MESSAGE_TYPE = "conversation.stop"
# Refusals that stored nothing and were not the user's overuse: the send does not count.
REFUNDED_CODES = frozenset({"busy", "muted", "not_found", "no_one_present"})


# --- sync helpers (run in the DB thread: service call + serialisation together) ---


def _payloads(messages: list[Message]) -> list[dict[str, Any]]:
    return messages_payload(messages)


def _begin_exchange(conversation: Conversation, text: str, client_id: str, persona_id: int | None = None):
    user_message, created, reply = services.exchange_begin(
        conversation=conversation, text=text, client_id=client_id, persona_id=persona_id
    )
    return message_payload(user_message), created, (message_payload(reply) if reply else None)


def _begin_regenerate(conversation: Conversation, message_id: int):
    message = selectors.message_get_in(conversation=conversation, message_id=message_id)
    if message is None:
        raise services.ChatError("not_found", "No such message in this conversation.")
    reply, deactivated = services.reply_begin_regenerate(message=message)
    return message_payload(reply), _payloads(deactivated)


def _edit(conversation: Conversation, frame: protocol.MessageEdit) -> tuple[list[dict[str, Any]], dict | None]:
    """Edit the last user message; its old answer becomes an alternative and a new one opens."""
    message = selectors.message_get_in(conversation=conversation, message_id=frame.message_id)
    if message is None:
        raise services.ChatError("not_found", "No such message in this conversation.")
    old_text = message.content
    changed, reply = services.message_edit_and_reanswer(message=message, text=frame.text)
    results = message_edited.send_robust(
        sender=Message, conversation=conversation, message=changed[0], old_text=old_text
    )
    for receiver, result in results:
        if isinstance(result, Exception):
            logger.error("message_edited receiver %r failed", receiver, exc_info=result)
    return _payloads(changed), (message_payload(reply) if reply else None)


def _change(conversation: Conversation, frame: protocol.Frame) -> list[dict[str, Any]]:
    message = selectors.message_get_in(conversation=conversation, message_id=frame.message_id)
    if message is None:
        raise services.ChatError("not_found", "No such message in this conversation.")
    if isinstance(frame, protocol.MessageDelete):
        changed = services.message_delete(message=message)
    else:
        changed = services.message_select_alternative(message=message)
    return _payloads(changed)


def _history(conversation: Conversation, after_seq: int) -> dict[str, Any]:
    limit = 500
    rows = selectors.messages_after(conversation=conversation, after_seq=after_seq, limit=limit)
    conversation.refresh_from_db(fields=["last_seq"])
    return {
        "type": "history",
        "after_seq": after_seq,
        "messages": _payloads(rows),  # streaming replies get their live text in on_history
        "last_seq": conversation.last_seq,
        "more": len(rows) == limit,
    }


def _message_exists(conversation: Conversation, message_id: int) -> bool:
    return selectors.message_get_in(conversation=conversation, message_id=message_id) is not None


class ConversationConsumer(AsyncWebsocketConsumer):
    conversation: Conversation | None = None

    # Group messages that never touch the database. Channels' dispatch() runs
    # close_old_connections in the (single, shared) DB thread before EVERY
    # handler; for each streamed token that queued behind other DB work and
    # cost tens of ms of relay latency under load (bench/ws_chat.py).
    _NO_DB_HANDLERS = frozenset({"conversation.frame", STOP_MESSAGE_TYPE})

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") in self._NO_DB_HANDLERS:
            await getattr(self, message["type"].replace(".", "_"))(message)
        else:
            await super().dispatch(message)

    # --- connection -------------------------------------------------------------

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        # Accept first, then close: a close before accept is a bare HTTP 403 and
        # the browser never sees our close code.
        if self.user is None or not self.user.is_authenticated:
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        conversation_id = self.scope["url_route"]["kwargs"]["conversation_id"]
        self.conversation = await db_thread(selectors.conversation_get_for)(
            user=self.user, conversation_id=conversation_id
        )
        if self.conversation is None:
            await self.accept()
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.group = conversation_group(self.conversation.pk)
        remember_server_loop()  # worker threads broadcast through this loop (in-memory layer)
        await self.channel_layer.group_add(self.group, self.channel_name)
        for group in auth_socket_groups(self.scope):  # logout / password change: auth_revoked closes us
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        local_join(self.conversation.pk, self)  # in-memory layer: frames come straight to send_text

    async def disconnect(self, code: int) -> None:
        # Replies keep generating (replies.reply_start): a reloaded page resumes them.
        if self.conversation is not None:
            local_leave(self.conversation.pk, self)
            await self.channel_layer.group_discard(self.group, self.channel_name)
            for group in auth_socket_groups(self.scope):
                await self.channel_layer.group_discard(group, self.channel_name)

    async def auth_revoked(self, event: dict[str, Any]) -> None:
        """This socket's login ended: logout, password change or account deletion (companion.chat.sessions)."""
        await self.close(code=CLOSE_UNAUTHENTICATED)

    # --- sending --------------------------------------------------------------------

    async def send_frame(self, frame: dict[str, Any]) -> None:
        await self.send_text(json.dumps(frame))

    async def send_text(self, text: str) -> None:
        """An already encoded frame (groups.conversation_broadcast encodes once per broadcast)."""
        await self.base_send({"type": "websocket.send", "text": text})

    async def send_error(self, code: str, detail: str = "") -> None:
        await self.send_frame({"type": "error", "code": code, "detail": detail or code})

    async def send_error_after_broadcasts(self, code: str, detail: str = "") -> None:
        """An error through this socket's own channel, so it arrives after the
        group frames already queued (the reply's message.done)."""
        frame = {"type": "error", "code": code, "detail": detail or code}
        await self.channel_layer.send(self.channel_name, {"type": GROUP_FRAME_TYPE, "frame": frame})

    async def broadcast(self, frame: dict[str, Any]) -> None:
        await conversation_broadcast(self.conversation.pk, frame)

    async def conversation_frame(self, event: dict[str, Any]) -> None:
        """Group message from groups.conversation_broadcast: forward verbatim."""
        await self.send_frame(event["frame"])

    async def conversation_stop(self, event: dict[str, Any]) -> None:
        """message.stop from any socket of this conversation: cancel the reply if this process runs it."""
        reply_stop(conversation_id=self.conversation.pk, message_id=event.get("message_id"))

    # --- receiving --------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.conversation is None:
            return
        try:
            frame, raw = protocol.parse_frame(text_data if text_data is not None else bytes_data)
        except ApplicationError as exc:
            await self.send_error(exc.code, exc.detail)
            return
        rid = context.new_request_id()
        with context.bound(request_id=rid):
            try:
                await self._dispatch_with_retry(frame, raw)
            except ApplicationError as exc:  # a refusal (chat, evolve, rate limit, model): the user is told why
                await self.send_error(exc.code, exc.detail)
            except OperationalError as exc:
                if _database_busy(exc):
                    logger.warning("frame %s: database still busy after a retry", raw.get("type"))
                    await self.send_error("busy", "The server is busy; try again in a moment. Nothing was lost.")
                else:
                    await self._internal_error(exc, frame_type=raw.get("type"), rid=rid)
            except Exception as exc:  # a bug must cost one frame, never the socket
                await self._internal_error(exc, frame_type=raw.get("type"), rid=rid)

    async def _dispatch_with_retry(self, frame: protocol.Frame, raw: dict[str, Any]) -> None:
        """A locked SQLite database gets one short retry: each write is one transaction,
        so a frame that failed on the lock stored nothing and is safe to run again."""
        try:
            await self.dispatch_frame(frame, raw)
        except OperationalError as exc:
            if not _database_busy(exc):
                raise
            logger.info("frame %s: database busy, retrying once", raw.get("type"))
            await asyncio.sleep(BUSY_RETRY_S)
            await self.dispatch_frame(frame, raw)

    async def _internal_error(self, exc: BaseException, *, frame_type: Any, rid: str) -> None:
        logger.error("frame %s failed (request %s)", str(frame_type)[:50], rid, exc_info=exc)
        await self.send_frame({
            "type": "error", "code": "internal", "request_id": rid,
            "detail": f"Something went wrong on the server (request {rid}); nothing you sent was lost.",
        })

    async def dispatch_frame(self, frame: protocol.Frame, raw: dict[str, Any]) -> None:
        if isinstance(frame, protocol.MessageSend):
            await self.on_send(frame)
        elif isinstance(frame, protocol.MessageRegenerate):
            await self.on_regenerate(frame)
        elif isinstance(frame, protocol.MessageEdit):
            services.validate_text(frame.text)
            changed, reply_payload = await db_thread(_edit)(self.conversation, frame)
            for payload in changed:
                await self.broadcast({"type": "message.updated", "message": payload})
            if reply_payload is not None:
                await self.start_reply(reply_payload)
        elif isinstance(frame, protocol.MessageDelete | protocol.MessageSelect):
            for payload in await db_thread(_change)(self.conversation, frame):
                await self.broadcast({"type": "message.updated", "message": payload})
        elif isinstance(frame, protocol.MessageStop):
            await self.channel_layer.group_send(self.group, {"type": STOP_MESSAGE_TYPE, "message_id": frame.message_id})
        elif isinstance(frame, protocol.HistorySync):
            await self.on_history(frame)
        elif isinstance(frame, protocol.ExtensionFrame):
            await self.on_extension_frame(raw)

    async def _check_rate(self) -> None:
        if await chat_rate_exceeded(self.user.pk):
            raise services.ChatError("rate_limited", "Too many messages; wait a moment.")

    async def on_send(self, frame: protocol.MessageSend) -> None:
        services.validate_text(frame.text)  # cheap checks before counting against the limit
        await self._check_rate()
        try:
            user_payload, created, reply_payload = await db_thread(_begin_exchange)(
                self.conversation, frame.text, frame.client_id, frame.persona_id
            )
        except (ApplicationError, OperationalError) as exc:
            # Refused (busy) or not stored (a locked database, retried once): no use of the user's budget.
            if isinstance(exc, OperationalError) or exc.code in REFUNDED_CODES:
                await chat_rate_refund(self.user.pk)
            raise
        created_frame = {"type": "message.created", "message": user_payload, "client_id": frame.client_id}
        if created:
            await self.broadcast(created_frame)
        else:
            await self.send_frame(created_frame)  # idempotent resend: echo to the sender only
        if reply_payload is not None:
            await self.start_reply(reply_payload)

    async def on_regenerate(self, frame: protocol.MessageRegenerate) -> None:
        if not await db_thread(_message_exists)(self.conversation, frame.message_id):
            raise services.ChatError("not_found", "No such message in this conversation.")
        await self._check_rate()
        reply_payload, deactivated = await db_thread(_begin_regenerate)(
            self.conversation, frame.message_id
        )
        for payload in deactivated:
            await self.broadcast({"type": "message.updated", "message": payload})
        await self.start_reply(reply_payload)

    async def on_history(self, frame: protocol.HistorySync) -> None:
        history = await db_thread(_history)(self.conversation, frame.after_seq)
        for message in history["messages"]:
            # The stored text of a streaming reply lags up to SAVE_EVERY_S; the live text is exact,
            # and the deltas that follow carry offsets, so the page continues without a gap.
            live = reply_live_text(message["id"]) if message.get("status") == "streaming" else None
            if live is not None:
                message["content"] = live
        await self.send_frame(history)

    async def start_reply(self, reply_payload: dict[str, Any]) -> None:
        await self.broadcast({"type": "message.created", "message": reply_payload})
        reply_start(
            conversation_id=self.conversation.pk,
            reply_id=reply_payload["id"],
            backend=get_backend(),
            on_error=self.send_error_after_broadcasts,
        )

    async def on_extension_frame(self, raw: dict[str, Any]) -> None:
        """A frame type another app registered (chat.frames), e.g. evolve's ``render.*``."""
        await frame_handler(raw["type"])(self, raw)
