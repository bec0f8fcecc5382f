"""Websocket routes (the protocol is documented in README.md)."""

from django.urls import path

from companion.chat.consumers import ConversationConsumer

websocket_urlpatterns = [
    path("ws/conversations/<int:conversation_id>/", ConversationConsumer.as_asgi()),
]
