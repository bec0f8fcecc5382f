"""A three-persona scene over the websocket, with a late joiner.

Alice talks with Mira and Jonas; she tells them about her boat; then Ines joins. Each reply streams
from the persona that was asked (its card, its adapter) and is labelled with it; Ines's prompt never
holds what was said before she came, and her ``recall`` does not return it, while Jonas's does.
A muted persona is refused; a regenerate of Ines's reply is Ines's again.
"""

from __future__ import annotations

import asyncio
import json

import dramatiq
import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from companion.chat.models import Message
from personas.models import Persona
from tests.chat.conftest import open_socket
from tests.workers import running_worker

pytestmark = pytest.mark.django_db(transaction=True)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _api(user, method: str, url: str, body: dict | None = None):
    client = _client(user)
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


def _recall(user, conversation_id: int, persona_id: int, query: str) -> list[str]:
    response = _client(user).get(f"/api/memory/conversations/{conversation_id}/recall/",
                                 {"q": query, "persona": persona_id, "k": 20})
    assert response.status_code == 200, response.content
    return [r["memory"]["text"] for r in response.json()["results"]]


def _drain_memory() -> None:
    dramatiq.get_broker().join("default", timeout=60_000)


def _prompt_text(call: dict) -> str:
    return "\n".join(t.content for t in call["turns"])


async def test_three_personas_each_answer_and_remember_only_what_they_witnessed(
    conversation, persona, user, login, scripted_backend, settings
):
    settings.MEMORY_LLM_EXTRACTION = False
    jonas = await sync_to_async(Persona.objects.create)(
        name="Jonas", description="{{char}} is a sailor in the harbour.", llm_adapter="jonas-lora")
    ines = await sync_to_async(Persona.objects.create)(
        name="Ines", description="{{char}} runs the village bakery.", llm_adapter="ines-lora")
    api = sync_to_async(_api)
    added = await api(user, "post", f"/api/conversations/{conversation.pk}/members/", {"persona": jonas.pk})
    assert added.status_code == 201 and [m["persona"]["name"] for m in added.json()] == ["Mira", "Jonas"]

    scripted_backend.replies = ["A fine name for a boat.", "Always, the kettle is on.", "Welcome, I smell rye.",
                                "Fresh rye every morning.", "Fresh rye, and seeded loaves."]
    with running_worker():
        ws = await open_socket(conversation.pk, await login(user))
        try:
            await ws.send({"type": "message.send", "client_id": "s-1", "persona_id": jonas.pk,
                           "text": "My boat is called Seagull and she is moored at pier seven."})
            frames = await ws.recv_until("message.done")
            reply = frames[1]["message"]
            assert reply["persona_id"] == jonas.pk and reply["speaker"] == "Jonas"
            assert frames[-1]["message"]["content"] == "A fine name for a boat."
            assert scripted_backend.calls[-1]["adapter"] == "jonas-lora"
            assert "sailor in the harbour" in scripted_backend.calls[-1]["turns"][0].content

            await ws.send({"type": "message.send", "client_id": "s-2", "text": "Mira, is there tea tonight?"})
            frames = await ws.recv_until("message.done")
            assert frames[-1]["message"]["speaker"] == "Mira"
            assert scripted_backend.calls[-1]["adapter"] == "mira-lora"
            assert "Jonas: A fine name for a boat." in _prompt_text(scripted_backend.calls[-1])

            joined = await api(user, "post", f"/api/conversations/{conversation.pk}/members/", {"persona": ines.slug})
            assert [m["persona"]["name"] for m in joined.json()] == ["Mira", "Jonas", "Ines"]

            await ws.send({"type": "message.send", "client_id": "s-3", "text": "Ines, welcome! Do you bake rye?"})
            frames = await ws.recv_until("message.done")
            ines_reply = frames[-1]["message"]
            assert ines_reply["speaker"] == "Ines" and ines_reply["persona_id"] == ines.pk
            assert scripted_backend.calls[-1]["adapter"] == "ines-lora"
            ines_prompt = _prompt_text(scripted_backend.calls[-1])
            assert "Seagull" not in ines_prompt and "tea tonight" not in ines_prompt
            assert "Alice: Ines, welcome! Do you bake rye?" in ines_prompt  # the speakers are named

            # Regenerate her reply: a new alternative, hers again, streamed to the socket
            await ws.send({"type": "message.regenerate", "message_id": ines_reply["id"]})
            frames = await ws.recv_until("message.done")
            again = frames[-1]["message"]
            assert again["parent_id"] == ines_reply["id"] and again["speaker"] == "Ines"
            assert again["content"] == "Fresh rye every morning."
            assert scripted_backend.calls[-1]["adapter"] == "ines-lora"

            # Mute Mira: naming her is refused (nothing stored); an unnamed message goes to someone present
            muted = await api(user, "patch", f"/api/conversations/{conversation.pk}/members/{persona.pk}/",
                              {"mute_minutes": 10})
            assert muted.status_code == 200 and muted.json()[0]["muted"] is True
            await ws.send({"type": "message.send", "client_id": "s-4", "persona_id": persona.pk, "text": "Mira?"})
            error = (await ws.recv_until("error"))[-1]
            assert error["code"] == "muted"
            assert not await Message.objects.filter(conversation=conversation, client_id="s-4").aexists()
            await ws.send({"type": "message.send", "client_id": "s-5", "text": "Mira, more bread please"})
            frames = await ws.recv_until("message.done")
            assert frames[-1]["message"]["speaker"] in {"Jonas", "Ines"}
            assert persona.pk not in frames[-1]["message"]["witnesses"]
        finally:
            await ws.close()
        await asyncio.to_thread(_drain_memory)

    recall = sync_to_async(_recall)
    for query in ("Seagull boat", "pier seven"):
        assert not any("Seagull" in t for t in await recall(user, conversation.pk, ines.pk, query)), query
        assert any("Seagull" in t for t in await recall(user, conversation.pk, jonas.pk, query)), query
        assert any("Seagull" in t for t in await recall(user, conversation.pk, persona.pk, query)), query
    # What Ines did witness, she remembers
    assert any("rye" in t for t in await recall(user, conversation.pk, ines.pk, "rye bread"))
    # Mira was muted for the last exchange: she did not hear it
    assert not any("more bread" in t for t in await recall(user, conversation.pk, persona.pk, "more bread"))
    # A persona outside the scene is not a member to ask about
    stranger = await sync_to_async(Persona.objects.create)(name="Stranger")
    url = f"/api/memory/conversations/{conversation.pk}/recall/?q=boat&persona={stranger.pk}"
    response = await api(user, "get", url)
    assert response.status_code == 404
