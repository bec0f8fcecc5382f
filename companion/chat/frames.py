"""Websocket frame types other apps add to the conversation socket.

Chat knows its own frames (``protocol.FRAMES``); apps above it (evolve's
``render.*``) register theirs at ``ready()`` with ``register_frame_handler``,
so the consumer never imports them. A handler is
``async handler(consumer, raw_frame)``; it validates the frame itself and uses
``consumer.user``, ``consumer.conversation``, ``send_frame`` and ``send_error``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

FrameHandler = Callable[[Any, dict[str, Any]], Awaitable[None]]

_handlers: dict[str, FrameHandler] = {}


def register_frame_handler(frame_type: str, handler: FrameHandler) -> None:
    if frame_type in _handlers and _handlers[frame_type] is not handler:
        raise ValueError(f"a handler for {frame_type!r} is already registered")
    _handlers[frame_type] = handler


def frame_handler(frame_type: str) -> FrameHandler | None:
    return _handlers.get(frame_type)
