"""The websocket frame-size limit: an ASGI wrapper in front of the conversation consumer.

Oversized frames never reach the consumer (no JSON parse of megabytes): the
client gets the protocol's ``error`` frame (code ``too_large``, PROTOCOL.md) and
the socket stays open, as for any bad frame. The limit is
``WEBSOCKET_MAX_FRAME_BYTES``, read per connection so tests and a deployment can
change it.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from prometheus_client import Counter

from companion.core.asgi import WebsocketMiddleware

TOO_LARGE = Counter("companion_websocket_frames_too_large", "Websocket frames refused for their size.")


class FrameSizeLimitMiddleware(WebsocketMiddleware):
    async def websocket(self, scope: dict, receive: Any, send: Any) -> None:
        limit = settings.WEBSOCKET_MAX_FRAME_BYTES

        async def limited_receive() -> dict:
            while True:
                message = await receive()
                if message.get("type") != "websocket.receive":
                    return message
                size = len(message.get("text") or "") + len(message.get("bytes") or b"")
                if size <= limit:
                    return message
                TOO_LARGE.inc()
                await send({"type": "websocket.send", "text": json.dumps(
                    {"type": "error", "code": "too_large", "detail": f"Frames are limited to {limit} bytes."})})

        await self.app(scope, limited_receive, send)
