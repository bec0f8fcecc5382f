"""SIGKILL the Daphne streaming a reply: the client reconnects to the other one and history.sync
gives it everything, once; the orphaned reply ends `interrupted` with its text kept."""

from __future__ import annotations

import asyncio
import signal

import pytest

from tests.faults.conftest import seed
from tests.support.wsclient import ChatSocket

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(300)]

TEXT = "Tell me the story of the lighthouse."
ROWS = """
from companion.chat.models import Message
rows = Message.objects.filter(conversation_id={conversation_id}).order_by("seq")
print(json.dumps([{{"id": m.id, "role": m.role, "status": m.status, "content": m.content, "client_id": m.client_id,
                   "parent": m.parent_id}} for m in rows]))
"""


def test_reconnect_to_the_other_daphne_after_a_kill_mid_stream(make_topology):
    topo = make_topology(SCRIPTED_TOKEN_DELAY_S="0.1", SCRIPTED_REPLY_WORDS="80")  # an 8 s reply
    user = seed(topo)[0]
    web_a, web_b = topo.web_urls
    conv = user["conversation_id"]

    async def scenario():
        a = await ChatSocket(web_a, conv, user["sessionid"]).open()
        await a.send({"type": "message.send", "text": TEXT, "client_id": "c1"})
        for _ in range(12):  # > 1 s of deltas: the reply row has been saved at least once
            await a.wait_for(lambda f: f["type"] == "message.delta", 10)
        topo.kill("web-a", signal.SIGKILL)
        await a.close()
        seen = [f["message"] for f in a.frames if f["type"] == "message.created"]
        last_seq = max(m["seq"] for m in seen)

        async with ChatSocket(web_b, conv, user["sessionid"]) as b:
            history = await b.history(after_seq=last_seq - 1)
            # The sweeper ends the orphaned reply and tells open sockets.
            done = await b.wait_for(lambda f: f["type"] == "message.done", 30)
            after = await b.history(after_seq=0)
            # Resending the same client_id (the client was not sure) stores nothing new.
            await b.send({"type": "message.send", "text": TEXT, "client_id": "c1"})
            echo = await b.wait_for(lambda f: f["type"] in ("message.created", "error"), 10)
            # And the conversation is usable again at once.
            _, fresh = await b.send_message("Are you still there?", "c2")
        return seen, history, done, after, echo, fresh

    seen, history, done, after, echo, fresh = asyncio.run(scenario())
    user_msg = next(m for m in seen if m["role"] == "user")
    reply = next(m for m in seen if m["role"] == "persona")

    # history.sync on B gave the rows A was streaming, each once.
    ids = [m["id"] for m in history["messages"]]
    assert len(ids) == len(set(ids))
    assert reply["id"] in ids
    partial = next(m for m in history["messages"] if m["id"] == reply["id"])
    assert partial["status"] in ("streaming", "interrupted")

    assert done["message"]["id"] == reply["id"] and done["message"]["status"] == "interrupted"
    kept = done["message"]["content"]
    assert kept and f"You said: {TEXT}".startswith(kept[: len(f"You said: {TEXT}")]), kept
    full_ids = [m["id"] for m in after["messages"]]
    assert len(full_ids) == len(set(full_ids)) and {user_msg["id"], reply["id"]} <= set(full_ids)

    assert echo["type"] == "message.created" and echo["message"]["id"] == user_msg["id"]
    assert fresh["message"]["status"] == "complete"

    rows = topo.django(ROWS.format(conversation_id=user["conversation_id"]))
    assert [r["client_id"] for r in rows if r["role"] == "user"] == ["c1", "c2"]  # stored once each
    assert not any(r["status"] == "streaming" for r in rows)
    stored = next(r for r in rows if r["id"] == reply["id"])
    assert stored["status"] == "interrupted" and stored["content"] == kept
