"""Log correlation ids bound per request and per socket.

``RequestIdMiddleware`` (HTTP): X-Request-ID in (when sane) or a fresh id, echoed on the response and in
every log line. ``WebsocketLogContextMiddleware`` (ASGI, websockets): the conversation id from the path,
bound for the connection's lifetime, so every line the consumer (and the tasks it starts) writes carries it.
"""

from __future__ import annotations

import re
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from companion.core import context
from companion.core.asgi import WebsocketMiddleware

HEADER = "X-Request-ID"
_CONVERSATION_PATH = re.compile(r"^/ws/conversations/(\d+)/")


class RequestIdMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        rid = context.new_request_id(request.headers.get(HEADER))
        request.request_id = rid
        with context.bound(request_id=rid):
            response = self.get_response(request)
        response[HEADER] = rid
        return response

    async def _acall(self, request):
        rid = context.new_request_id(request.headers.get(HEADER))
        request.request_id = rid
        with context.bound(request_id=rid):
            response = await self.get_response(request)
        response[HEADER] = rid
        return response


class WebsocketLogContextMiddleware(WebsocketMiddleware):
    async def websocket(self, scope: dict, receive: Any, send: Any) -> None:
        match = _CONVERSATION_PATH.match(scope.get("path", ""))
        with context.bound(conversation_id=match.group(1) if match else None):
            await self.app(scope, receive, send)
