"""Broadcast to a conversation from any thread, including the in-process render worker.

``conversation_broadcast_sync`` runs the group send on a fresh event loop in
the calling thread. With channels_redis (production) that is fine. With the
in-memory channel layer (embedded default) the group's queues belong to the
web server's event loop and ``asyncio.Queue`` is not thread-safe: a put from
the worker thread's own loop does not wake the consumer, so frames stall.
Here the send is handed to the web loop instead, which the render handlers
remember each time they run on it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 10.0
_web_loop: asyncio.AbstractEventLoop | None = None


def remember_loop() -> None:
    """Call from code running on the web server's event loop."""
    global _web_loop
    _web_loop = asyncio.get_running_loop()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def broadcast(conversation_id: int, frame: dict[str, Any]) -> None:
    from companion.chat.groups import conversation_broadcast, conversation_broadcast_sync

    loop = _web_loop
    in_memory = isinstance(get_channel_layer(), InMemoryChannelLayer)
    if in_memory and loop is not None and loop.is_running() and not loop.is_closed() and _running_loop() is not loop:
        future = asyncio.run_coroutine_threadsafe(conversation_broadcast(conversation_id, frame), loop)
        future.result(timeout=SEND_TIMEOUT_S)
        return
    conversation_broadcast_sync(conversation_id, frame)
