"""Fan-out of server→client frames to every socket open on a conversation.

Each ConversationConsumer joins ``conversation_group(id)``; a group message of
type ``conversation.frame`` carrying ``{"frame": {...}}`` is forwarded to the
client verbatim. Usable from the event loop (``conversation_broadcast``) and
from plain threads/processes such as Dramatiq workers
(``conversation_broadcast_sync``), over whichever channel layer is configured.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

GROUP_MESSAGE_TYPE = "conversation.frame"


def conversation_group(conversation_id: int) -> str:
    return f"conversation.{int(conversation_id)}"


async def conversation_broadcast(conversation_id: int, frame: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    await layer.group_send(conversation_group(conversation_id), {"type": GROUP_MESSAGE_TYPE, "frame": frame})


def conversation_broadcast_sync(conversation_id: int, frame: dict[str, Any]) -> None:
    """Same, from synchronous code (must not run inside an event loop thread)."""
    async_to_sync(conversation_broadcast)(conversation_id, frame)
