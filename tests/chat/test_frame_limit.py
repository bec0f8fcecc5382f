"""Frames over WEBSOCKET_MAX_FRAME_BYTES get an error frame before any parsing; the socket stays open."""

from __future__ import annotations

import json

import pytest
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.testing import WebsocketCommunicator

from companion.chat.frame_limit import FrameSizeLimitMiddleware


class Echoing(AsyncWebsocketConsumer):
    async def connect(self):
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None):
        await self.send(text_data=f"got {len(text_data or bytes_data)}")


@pytest.mark.django_db
async def test_oversized_frames_get_an_error_and_the_socket_stays_open(settings):
    settings.WEBSOCKET_MAX_FRAME_BYTES = 1000
    comm = WebsocketCommunicator(FrameSizeLimitMiddleware(Echoing.as_asgi()), "/ws/conversations/3/")
    assert (await comm.connect())[0]
    await comm.send_to(text_data="x" * 1001)
    assert json.loads(await comm.receive_from()) == {
        "type": "error", "code": "too_large", "detail": "Frames are limited to 1000 bytes."
    }
    await comm.send_to(bytes_data=b"y" * 5000)
    assert json.loads(await comm.receive_from())["code"] == "too_large"
    await comm.send_to(text_data="x" * 1000)  # at the limit: delivered
    assert await comm.receive_from() == "got 1000"
    await comm.disconnect()


def test_the_real_websocket_app_limits_frames():
    from companion.asgi import application

    app = application.application_mapping["websocket"]
    while not isinstance(app, FrameSizeLimitMiddleware):
        app = app.app  # each wrapper keeps the next one as .app
