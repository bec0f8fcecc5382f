"""Acceptance: a group scene on the served app with the real packaged chat model, at a person's pace.

``manage.py serve`` (Daphne, the in-process worker, llama.cpp) on its own SQLite file. Over real HTTP
and a real websocket Ana brings Jonas into her chat with the demo persona, tells Jonas about her boat,
asks the demo persona something, then lets Ines join and greets her by name. What she would notice
is asserted: each reply streams complete from the persona she addressed (its name on the reply), no
error frames; and afterwards Ines's memory (``recall`` with ``persona=``) holds nothing of the boat,
while Jonas's does.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tests.acceptance.test_real_chat import Watch, http_login, new_reply, pause, reply_done
from tests.served_app import PASSWORD, served_app
from tests.support.wsclient import ChatSocket

pytestmark = [pytest.mark.slow, pytest.mark.acceptance, pytest.mark.timeout(900)]

SEED = f"""
from django.contrib.auth import get_user_model
from companion.chat.services import conversation_start
from personas.demo import ensure_demo_persona
from personas.models import Persona

persona = ensure_demo_persona()
Persona.objects.create(name="Jonas", slug="jonas", personality="gruff, kind", greeting="Ahoy.",
                       description="{{{{char}}}} is a sailor who mends nets in the harbour.")
Persona.objects.create(name="Ines", slug="ines", description="{{{{char}}}} runs the village bakery.",
                       personality="cheerful", greeting="Hello!")
user = get_user_model().objects.create_user("ana", password={PASSWORD!r})
print("CONVERSATION", conversation_start(owner=user, persona=persona).pk)
"""


def _members(client: httpx.Client, conversation_id: int, slug: str) -> dict[str, int]:
    token = client.cookies.get("csrftoken", "")
    answer = client.post(f"/api/conversations/{conversation_id}/members/", json={"persona": slug},
                         headers={"X-CSRFToken": token, "Referer": str(client.base_url)})
    assert answer.status_code == 201, answer.text
    return {m["persona"]["slug"]: m["persona"]["id"] for m in answer.json()}


def _recall(client: httpx.Client, conversation_id: int, persona_id: int, query: str) -> list[str]:
    answer = client.get(f"/api/memory/conversations/{conversation_id}/recall/",
                        params={"q": query, "persona": persona_id, "k": 20})
    assert answer.status_code == 200, answer.text
    return [r["memory"]["text"] for r in answer.json()["results"]]


async def _say(ws: ChatSocket, text: str, client_id: str, persona_id: int | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "message.send", "text": text, "client_id": client_id}
    if persona_id:
        frame["persona_id"] = persona_id
    await ws.send(frame)
    started = await ws.wait_for(new_reply, 120)
    return await reply_done(ws, started["message"]["id"])


def test_a_group_scene_with_a_late_joiner_on_the_real_model(tmp_path_factory):
    env = {"LLM_BACKEND": "embedded", "RENDERER": "previz"}
    with served_app(tmp_path_factory.mktemp("scene"), seed=SEED, env=env) as app:
        conversation_id = app.conversation_id
        watch = Watch()
        client = http_login(app.url, "ana", watch)
        client.get(f"/conversations/{conversation_id}/")  # the chat page sets the CSRF cookie
        ids = _members(client, conversation_id, "jonas")

        async def scene() -> list[dict[str, Any]]:
            ws = await ChatSocket(app.url, conversation_id, client.cookies["sessionid"]).open()
            try:
                replies = [await _say(ws, "Jonas, my boat is called Seagull and she is moored at pier seven.", "a-1",
                                      ids["jonas"])]
                await pause()
                replies.append(await _say(ws, "Jonas, can you help me mend her sails tomorrow?", "a-2"))
                await pause()
                ids.update(await asyncio.to_thread(_members, client, conversation_id, "ines"))
                replies.append(await _say(ws, "Ines, welcome! What bread are you baking today?", "a-3"))
                return replies
            finally:
                watch.socket_done(ws)
                await ws.close()

        try:
            replies = asyncio.run(scene())
        except BaseException as exc:
            raise AssertionError(f"{exc!r}\nserver log:\n{app.log.read_text()[-6000:]}") from exc
        deadline = time.monotonic() + 240  # memory work runs after each reply, in the worker
        jonas_knows: list[str] = []
        while time.monotonic() < deadline and not any("Seagull" in t for t in jonas_knows):
            time.sleep(3)
            jonas_knows = _recall(client, conversation_id, ids["jonas"], "boat Seagull pier")
        ines_knows = _recall(client, conversation_id, ids["ines"], "boat Seagull pier")
        ines_bread = _recall(client, conversation_id, ids["ines"], "bread baking")
        client.close()

    assert watch.errors == [] and watch.server_closes == [], (watch.errors, watch.server_closes)
    assert [r["speaker"] for r in replies] == ["Jonas", "Jonas", "Ines"]
    for reply in replies:
        assert reply["status"] == "complete" and reply["content"].strip(), reply
    assert any("Seagull" in t for t in jonas_knows), jonas_knows
    assert not any("Seagull" in t or "pier seven" in t for t in ines_knows), ines_knows
    assert any("bread" in t.lower() for t in ines_bread), ines_bread
