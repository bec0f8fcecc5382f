"""The shape of our websocket ASGI wrappers: act on websocket connections, pass the rest through."""

from __future__ import annotations

from typing import Any


class WebsocketMiddleware:
    """An ASGI wrapper that handles websocket scopes in ``websocket()``; HTTP goes straight through."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") != "websocket":
            await self.app(scope, receive, send)
            return
        await self.websocket(scope, receive, send)

    async def websocket(self, scope: dict, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
