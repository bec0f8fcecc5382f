"""Fan-out of server→client frames to every socket open on a conversation.

Each ConversationConsumer joins ``conversation_group(id)``; a group message of
type ``conversation.frame`` carrying ``{"frame": {...}}`` is forwarded to the
client verbatim. Usable from the event loop (``conversation_broadcast``) and
from plain threads/processes such as Dramatiq workers
(``conversation_broadcast_sync``), over whichever channel layer is configured.
"""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

GROUP_MESSAGE_TYPE = "conversation.frame"
CROSS_THREAD_SEND_TIMEOUT_S = 10.0

# The web server's event loop, remembered by the consumer. With the in-memory
# channel layer (embedded default) the groups' asyncio queues belong to that
# loop and are not thread-safe: a send from a worker thread must run there.
_server_loop: asyncio.AbstractEventLoop | None = None


def conversation_group(conversation_id: int) -> str:
    return f"conversation.{int(conversation_id)}"


def remember_server_loop() -> None:
    """Called on the server's event loop (by the consumer on connect)."""
    global _server_loop
    _server_loop = asyncio.get_running_loop()


async def conversation_broadcast(conversation_id: int, frame: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    await layer.group_send(conversation_group(conversation_id), {"type": GROUP_MESSAGE_TYPE, "frame": frame})


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def conversation_broadcast_sync(conversation_id: int, frame: dict[str, Any]) -> None:
    """Same, from synchronous code: worker threads, Dramatiq actors, DB threads."""
    loop = _server_loop
    if (
        isinstance(get_channel_layer(), InMemoryChannelLayer)
        and loop is not None
        and loop.is_running()
        and _running_loop() is not loop
    ):
        future = asyncio.run_coroutine_threadsafe(conversation_broadcast(conversation_id, frame), loop)
        future.result(timeout=CROSS_THREAD_SEND_TIMEOUT_S)
        return
    async_to_sync(conversation_broadcast)(conversation_id, frame)
