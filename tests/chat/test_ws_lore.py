"""Over the websocket: a keyword in the user's message puts the lorebook entry into the prompt the model gets."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from personas.models import LoreEntry
from tests.chat.conftest import open_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_keyword_in_the_message_puts_the_entry_into_the_prompt(conversation, persona, user, login,
                                                                        scripted_backend):
    await sync_to_async(LoreEntry.objects.create)(
        persona=persona, keys=["Gannet Point"], content="Gannet Point's lighthouse has been dark since the flood."
    )
    scripted_backend.replies = ["It has.", "Aye."]
    ws = await open_socket(conversation.pk, await login(user))
    try:
        await ws.send({"type": "message.send", "text": "What about the weather?", "client_id": "c-1"})
        await ws.recv_until("message.done")
        await ws.send({"type": "message.send", "text": "Is gannet point still dark?", "client_id": "c-2"})
        await ws.recv_until("message.done")
    finally:
        await ws.close()
    replies = [c for c in scripted_backend.calls if "adapter" in c]  # chat streams, not structured asks
    first, second = replies[0], replies[-1]
    assert "since the flood" not in first["turns"][0].content
    assert "Gannet Point's lighthouse has been dark since the flood." in second["turns"][0].content
