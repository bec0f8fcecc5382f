"""What reaches the user when the model misbehaves: tidied, retried once, or a safe in-character line."""

from __future__ import annotations

import pytest
from django.conf import settings

from companion.chat.models import Message
from tests.chat.conftest import open_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def _reply(conversation, user, login, text="hi") -> dict:
    ws = await open_socket(conversation.pk, await login(user))
    await ws.send({"type": "message.send", "text": text, "client_id": "r-1"})
    done = (await ws.recv_until("message.done", wait_s=15))[-1]["message"]
    await ws.close()
    return done


async def test_an_out_of_character_reply_is_replaced_by_a_second_try(conversation, user, login, scripted_backend):
    scripted_backend.replies = [
        "As an AI language model, I do not have feelings.",
        "*Mira sets the kettle on.* The storm is loud tonight, Alice.",
    ]
    done = await _reply(conversation, user, login)
    assert done["status"] == "complete"
    assert done["content"] == "*Mira sets the kettle on.* The storm is loud tonight, Alice."
    row = await Message.objects.aget(pk=done["id"])
    assert row.extra["review"] == ["out_of_character"]
    assert len(scripted_backend.calls) == 2
    first, second = (call["params"] for call in scripted_backend.calls)
    assert second.seed != first.seed
    # Warmer: at the first try's temperature a second try mostly repeated it (bench/chat_quality).
    assert second.temperature >= min(settings.CHAT_RETRY_MIN_TEMPERATURE, settings.CHAT_MAX_TEMPERATURE)


async def test_two_bad_tries_give_a_safe_in_character_line(conversation, user, login, scripted_backend):
    scripted_backend.replies = ["You are an idiot.", "I am an AI assistant. How can I assist you today?"]
    done = await _reply(conversation, user, login)
    assert done["status"] == "complete"
    assert "idiot" not in done["content"] and "AI" not in done["content"]
    assert done["content"].strip()
    row = await Message.objects.aget(pk=done["id"])
    assert row.extra["review"] == ["abusive"] and row.extra["fallback"]


async def test_the_users_lines_written_by_the_model_are_cut(conversation, user, login, scripted_backend):
    scripted_backend.replies = ["Mind the stairs, they are wet.\nAlice: Thanks! I will.\nMira: Good."]
    done = await _reply(conversation, user, login)
    assert done["content"] == "Mind the stairs, they are wet."
