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
import inspect
import json
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from companion.chat import protocol, selectors, services
from companion.chat.groups import GROUP_MESSAGE_TYPE as GROUP_FRAME_TYPE
from companion.chat.groups import (
    conversation_broadcast,
    conversation_group,
    local_join,
    local_leave,
    remember_server_loop,
)
from companion.chat.models import Conversation, Message
from companion.chat.ratelimit import chat_rate_exceeded
from companion.chat.replies import reply_stream
from companion.chat.serializers import message_payload, messages_payload
from companion.llm.registry import get_backend

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
STOP_MESSAGE_TYPE = "conversation.stop"


# --- sync helpers (run in the DB thread: service call + serialisation together) ---


def _payloads(messages: list[Message]) -> list[dict[str, Any]]:
    return messages_payload(messages)


def _begin_exchange(conversation: Conversation, text: str, client_id: str):
    user_message, created, reply = services.exchange_begin(conversation=conversation, text=text, client_id=client_id)
    return message_payload(user_message), created, (message_payload(reply) if reply else None)


def _begin_regenerate(conversation: Conversation, message_id: int):
    message = selectors.message_get_in(conversation=conversation, message_id=message_id)
    if message is None:
        raise services.ChatError("not_found", "No such message in this conversation.")
    reply, deactivated = services.reply_begin_regenerate(message=message)
    return message_payload(reply), _payloads(deactivated)


def _change(conversation: Conversation, frame: protocol.Frame) -> list[dict[str, Any]]:
    message = selectors.message_get_in(conversation=conversation, message_id=frame.message_id)
    if message is None:
        raise services.ChatError("not_found", "No such message in this conversation.")
    if isinstance(frame, protocol.MessageEdit):
        changed = [services.message_edit(message=message, text=frame.text)]
    elif isinstance(frame, protocol.MessageDelete):
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
        "messages": _payloads(rows),
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
        self.replies: dict[int, asyncio.Task] = {}
        # Accept first, then close: a close before accept is a bare HTTP 403 and
        # the browser never sees our close code.
        if self.user is None or not self.user.is_authenticated:
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        conversation_id = self.scope["url_route"]["kwargs"]["conversation_id"]
        self.conversation = await database_sync_to_async(selectors.conversation_get_for)(
            user=self.user, conversation_id=conversation_id
        )
        if self.conversation is None:
            await self.accept()
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.group = conversation_group(self.conversation.pk)
        remember_server_loop()  # worker threads broadcast through this loop (in-memory layer)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        local_join(self.conversation.pk, self)  # in-memory layer: frames come straight to send_text

    async def disconnect(self, code: int) -> None:
        tasks = list(self.replies.values())
        for task in tasks:
            task.cancel()  # the runner keeps the text and marks the reply interrupted
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self.conversation is not None:
            local_leave(self.conversation.pk, self)
            await self.channel_layer.group_discard(self.group, self.channel_name)

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
        """message.stop from any socket of this conversation: cancel what this connection runs."""
        wanted = event.get("message_id")
        for reply_id, task in list(self.replies.items()):
            if wanted is None or wanted == reply_id:
                task.cancel()

    # --- receiving --------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.conversation is None:
            return
        try:
            frame, raw = protocol.parse_frame(text_data if text_data is not None else bytes_data)
        except protocol.FrameError as exc:
            await self.send_error(exc.code, exc.detail)
            return
        try:
            await self.dispatch_frame(frame, raw)
        except services.ChatError as exc:
            await self.send_error(exc.code, exc.detail)

    async def dispatch_frame(self, frame: protocol.Frame, raw: dict[str, Any]) -> None:
        if isinstance(frame, protocol.MessageSend):
            await self.on_send(frame)
        elif isinstance(frame, protocol.MessageRegenerate):
            await self.on_regenerate(frame)
        elif isinstance(frame, protocol.MessageEdit | protocol.MessageDelete | protocol.MessageSelect):
            if isinstance(frame, protocol.MessageEdit):
                services.validate_text(frame.text)
            for payload in await database_sync_to_async(_change)(self.conversation, frame):
                await self.broadcast({"type": "message.updated", "message": payload})
        elif isinstance(frame, protocol.MessageStop):
            await self.channel_layer.group_send(self.group, {"type": STOP_MESSAGE_TYPE, "message_id": frame.message_id})
        elif isinstance(frame, protocol.HistorySync):
            await self.send_frame(await database_sync_to_async(_history)(self.conversation, frame.after_seq))
        elif isinstance(frame, protocol.RenderFrame):
            await self.on_render_frame(raw)

    async def _check_rate(self) -> None:
        if await chat_rate_exceeded(self.user.pk):
            raise services.ChatError("rate_limited", "Too many messages; wait a moment.")

    async def on_send(self, frame: protocol.MessageSend) -> None:
        services.validate_text(frame.text)  # cheap checks before counting against the limit
        await self._check_rate()
        user_payload, created, reply_payload = await database_sync_to_async(_begin_exchange)(
            self.conversation, frame.text, frame.client_id
        )
        created_frame = {"type": "message.created", "message": user_payload, "client_id": frame.client_id}
        if created:
            await self.broadcast(created_frame)
        else:
            await self.send_frame(created_frame)  # idempotent resend: echo to the sender only
        if reply_payload is not None:
            await self.start_reply(reply_payload)

    async def on_regenerate(self, frame: protocol.MessageRegenerate) -> None:
        if not await database_sync_to_async(_message_exists)(self.conversation, frame.message_id):
            raise services.ChatError("not_found", "No such message in this conversation.")
        await self._check_rate()
        reply_payload, deactivated = await database_sync_to_async(_begin_regenerate)(
            self.conversation, frame.message_id
        )
        for payload in deactivated:
            await self.broadcast({"type": "message.updated", "message": payload})
        await self.start_reply(reply_payload)

    async def start_reply(self, reply_payload: dict[str, Any]) -> None:
        await self.broadcast({"type": "message.created", "message": reply_payload})
        reply_id = reply_payload["id"]
        task = asyncio.create_task(
            reply_stream(
                conversation_id=self.conversation.pk,
                reply_id=reply_id,
                backend=get_backend(),
                on_error=self.send_error_after_broadcasts,
            ),
            name=f"reply-{reply_id}",
        )
        self.replies[reply_id] = task
        task.add_done_callback(lambda _t: self.replies.pop(reply_id, None))

    async def on_render_frame(self, raw: dict[str, Any]) -> None:
        """``render.*`` frames belong to companion.evolve.ws (HANDLERS by type, or
        handle_render_request); without it rendering is ``not_available``."""
        try:
            from companion.evolve import ws as evolve_ws
        except ImportError:
            evolve_ws = None
        handlers = dict(getattr(evolve_ws, "HANDLERS", None) or {})
        if "render.request" not in handlers and hasattr(evolve_ws, "handle_render_request"):
            handlers["render.request"] = evolve_ws.handle_render_request
        handler = handlers.get(raw["type"])
        if handler is None:
            if evolve_ws is None or raw["type"] == "render.request":
                await self.send_error("not_available", "Scene rendering is not available on this server.")
            else:
                await self.send_error("unknown_type", f"Unknown frame type {raw['type'][:50]!r}.")
            return
        result = handler(self, raw)
        if inspect.isawaitable(result):
            await result
