"""Fan-out of server→client frames to every socket open on a conversation.

Each ConversationConsumer joins ``conversation_group(id)``; a group message of
type ``conversation.frame`` carrying ``{"frame": {...}}`` is forwarded to the
client verbatim. Usable from the event loop (``conversation_broadcast``) and
from plain threads/processes such as Dramatiq workers
(``conversation_broadcast_sync``), over whichever channel layer is configured.

With the in-memory channel layer (the embedded default, one process) every
socket of a conversation lives in this process, so frames skip the layer:
consumers also register here (``local_join``/``local_leave``) and a broadcast
encodes the frame once and hands the text to each socket directly. Per frame
that saves the layer's message deepcopy, a task per group member, its queue,
Channels' receive/dispatch loop for each member, a JSON encode per member, and
``InMemoryChannelLayer._clean_expired`` (a walk over *every* channel and group
of the process on each send and receive: quadratic in the connections held).
The consumers stay in the layer's group too, so a raw ``group_send`` still
reaches them. With Redis (several processes) the layer is used as before.

``conversation_broadcast_sync`` (worker and DB threads: rare frames such as
render progress or notices) keeps going through the layer, so those frames are
still queued behind the handler a socket is running, as they always were.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from typing import Any, Protocol

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

GROUP_MESSAGE_TYPE = "conversation.frame"
CROSS_THREAD_SEND_TIMEOUT_S = 10.0

# The web server's event loop, remembered by the consumer. With the in-memory
# channel layer (embedded default) the groups' asyncio queues belong to that
# loop and are not thread-safe: a send from a worker thread must run there.
_server_loop: asyncio.AbstractEventLoop | None = None

logger = logging.getLogger(__name__)


class LocalMember(Protocol):
    async def send_text(self, text: str) -> None: ...


# layer → conversation id → sockets in this process. Keyed by the layer object so
# a fresh layer (tests reset channel_layers) starts with no members.
_local: weakref.WeakKeyDictionary[Any, dict[int, dict[LocalMember, None]]] = weakref.WeakKeyDictionary()


def _local_members(layer: Any) -> dict[int, dict[LocalMember, None]] | None:
    if not isinstance(layer, InMemoryChannelLayer):
        return None
    members = _local.get(layer)
    if members is None:
        members = _local[layer] = {}
    return members


def local_join(conversation_id: int, member: LocalMember) -> None:
    """Deliver this conversation's frames to ``member.send_text`` directly (in-memory layer only)."""
    members = _local_members(get_channel_layer())
    if members is not None:
        members.setdefault(int(conversation_id), {})[member] = None


def local_leave(conversation_id: int, member: LocalMember) -> None:
    members = _local_members(get_channel_layer())
    if members is None:
        return
    group = members.get(int(conversation_id))
    if group is not None:
        group.pop(member, None)
        if not group:
            members.pop(int(conversation_id), None)


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
    members = _local_members(layer)
    if members is not None:
        group = members.get(int(conversation_id))
        if group:
            text = json.dumps(frame)  # once, whatever the number of sockets
            for member in list(group):  # a socket may leave while we await
                try:
                    await member.send_text(text)
                except Exception:  # one broken socket must not stop the others or the reply
                    logger.warning("frame to a closing socket dropped", exc_info=True)
        return
    await _layer_broadcast(conversation_id, frame)


async def _layer_broadcast(conversation_id: int, frame: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is not None:
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
        future = asyncio.run_coroutine_threadsafe(_layer_broadcast(conversation_id, frame), loop)
        future.result(timeout=CROSS_THREAD_SEND_TIMEOUT_S)
        return
    async_to_sync(_layer_broadcast)(conversation_id, frame)


def group_send_sync(group: str, message: dict[str, Any]) -> None:
    """A raw ``group_send`` from synchronous code, by the same route as ``conversation_broadcast_sync``.

    For messages to other groups than a conversation's (``companion.chat.sessions`` closes a user's
    sockets through their ``auth.*`` groups).
    """
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _server_loop
    in_memory = isinstance(layer, InMemoryChannelLayer)
    if in_memory and loop is not None and loop.is_running() and _running_loop() is not loop:
        future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
        future.result(timeout=CROSS_THREAD_SEND_TIMEOUT_S)
        return
    async_to_sync(layer.group_send)(group, message)
