"""The websocket protocol's happy paths: send, stream, regenerate, edit/delete, history.sync."""

from __future__ import annotations

import asyncio

import pytest

from companion.chat.models import Message
from companion.chat.signals import exchange_completed
from tests.chat.conftest import open_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def _messages(conversation) -> list[Message]:
    return [m async for m in Message.objects.filter(conversation=conversation).order_by("seq")]


async def test_send_streams_a_reply_token_by_token_and_stores_both(
    conversation, user, login, scripted_backend, settings
):
    scripted_backend.replies = ["The tea is strong tonight, Alice."]
    received = []
    exchange_completed.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t1")
    try:
        ws = await open_socket(conversation.pk, await login(user))
        await ws.send({"type": "message.send", "text": "Hello Mira", "client_id": "c-1"})
        frames = await ws.recv_until("message.done")
        for _ in range(100):  # the signal is sent right after message.done goes out
            if received:
                break
            await asyncio.sleep(0.02)
    finally:
        exchange_completed.disconnect(dispatch_uid="t1")

    user_created, reply_created, *deltas, done = frames
    assert user_created["type"] == "message.created"
    assert user_created["client_id"] == "c-1"
    assert user_created["message"]["role"] == "user"
    assert user_created["message"]["content"] == "Hello Mira"
    assert reply_created["type"] == "message.created"
    assert reply_created["message"]["role"] == "persona"
    assert reply_created["message"]["status"] == "streaming"
    reply_id = reply_created["message"]["id"]
    assert len(deltas) > 1 and {d["type"] for d in deltas} == {"message.delta"}
    assert all(d["message_id"] == reply_id for d in deltas)
    # offsets let a client stitch deltas exactly
    text = ""
    for d in deltas:
        assert d["offset"] == len(text)
        text += d["text"]
    assert text == "The tea is strong tonight, Alice."
    assert done["message"]["id"] == reply_id
    assert done["message"]["status"] == "complete"
    assert done["message"]["content"] == text
    assert "prompt" not in done["message"]["extra"]  # staff-only

    greeting, stored_user, stored_reply = await _messages(conversation)
    assert greeting.role == "persona" and greeting.content == "Evening, Alice. I'm Mira. Tea?"
    assert (stored_user.seq, stored_user.content, stored_user.client_id) == (2, "Hello Mira", "c-1")
    assert stored_reply.seq == 3 and stored_reply.status == "complete" and stored_reply.content == text
    assert stored_reply.extra["prompt"]["tokens"]["total"] > 0
    assert stored_reply.extra["prompt"]["history_message_ids"] == [greeting.pk, stored_user.pk]

    call = scripted_backend.calls[0]
    assert call["adapter"] == "mira-lora"
    # the persona's temperature, scaled for the packaged model and capped (companion/chat/sampling.py)
    expected = min(0.55 * settings.CHAT_TEMPERATURE_SCALE, settings.CHAT_MAX_TEMPERATURE)
    assert call["params"].temperature == pytest.approx(expected)
    assert call["turns"][0].role == "system" and "lighthouse keeper" in call["turns"][0].content
    assert [t.role for t in call["turns"][1:]] == ["assistant", "user", "system"]
    assert call["turns"][2].content == "Hello Mira"

    assert len(received) == 1
    assert received[0]["user_message"].pk == stored_user.pk
    assert received[0]["reply_message"].pk == stored_reply.pk
    assert await ws.nothing_more()
    await ws.close()


async def test_resend_with_same_client_id_stores_once_and_replies_once(conversation, user, login, scripted_backend):
    ws = await open_socket(conversation.pk, await login(user))
    await ws.send({"type": "message.send", "text": "Only once", "client_id": "dup-1"})
    first = await ws.recv_until("message.done")
    await ws.send({"type": "message.send", "text": "Only once", "client_id": "dup-1"})
    echo = await ws.recv()
    assert echo["type"] == "message.created"
    assert echo["client_id"] == "dup-1"
    assert echo["message"]["id"] == first[0]["message"]["id"]
    assert await ws.nothing_more(wait_s=0.3)  # no second reply
    await ws.close()
    messages = await _messages(conversation)
    assert [m.role for m in messages] == ["persona", "user", "persona"]
    assert len(scripted_backend.calls) == 1


async def test_regenerate_keeps_alternatives_and_select_switches(conversation, user, login, scripted_backend):
    scripted_backend.replies = ["First answer.", "Second answer."]
    ws = await open_socket(conversation.pk, await login(user))
    await ws.send({"type": "message.send", "text": "Tell me a story", "client_id": "r-1"})
    first = (await ws.recv_until("message.done"))[-1]["message"]

    await ws.send({"type": "message.regenerate", "message_id": first["id"]})
    frames = await ws.recv_until("message.done")
    updated = [f for f in frames if f["type"] == "message.updated"]
    assert [u["message"]["id"] for u in updated] == [first["id"]]
    assert updated[0]["message"]["is_active"] is False
    second = frames[-1]["message"]
    assert second["content"] == "Second answer."
    assert second["parent_id"] == first["id"]
    assert second["position"] == first["seq"]
    assert second["is_active"] is True
    assert second["alternative_ids"] == [first["id"], second["id"]]
    # the regenerated reply saw the same history as the first one
    assert scripted_backend.calls[1]["turns"] == scripted_backend.calls[0]["turns"]

    await ws.send({"type": "message.select", "message_id": first["id"]})
    switched = [await ws.recv(), await ws.recv()]
    state = {f["message"]["id"]: f["message"]["is_active"] for f in switched}
    assert state == {first["id"]: True, second["id"]: False}
    await ws.close()
    rows = {m.pk: m for m in await _messages(conversation)}
    assert rows[first["id"]].is_active and not rows[second["id"]].is_active
    assert rows[first["id"]].content == "First answer."  # old versions kept


async def test_edit_and_delete_only_the_last_user_message(conversation, user, login):
    ws = await open_socket(conversation.pk, await login(user))
    await ws.send({"type": "message.send", "text": "one", "client_id": "e-1"})
    first = (await ws.recv_until("message.done"))[0]["message"]
    await ws.send({"type": "message.send", "text": "two", "client_id": "e-2"})
    frames = await ws.recv_until("message.done")
    second, reply = frames[0]["message"], frames[-1]["message"]

    await ws.send({"type": "message.edit", "message_id": first["id"], "text": "changed"})
    assert (await ws.recv())["code"] == "not_editable"

    # Editing re-answers: the old reply answered the old text, so it becomes an inactive
    # alternative and a new reply to the edited text streams in.
    await ws.send({"type": "message.edit", "message_id": second["id"], "text": "two, edited"})
    frames = await ws.recv_until("message.done")
    updated = {f["message"]["id"]: f["message"] for f in frames if f["type"] == "message.updated"}
    assert updated[second["id"]]["content"] == "two, edited"
    assert updated[second["id"]]["changed_seq"] > second["changed_seq"]
    assert updated[reply["id"]]["is_active"] is False
    new_reply = frames[-1]["message"]
    assert new_reply["status"] == "complete" and new_reply["content"] == "You said: two, edited"

    await ws.send({"type": "message.delete", "message_id": second["id"]})
    gone = [await ws.recv(), await ws.recv(), await ws.recv()]  # the message and both answers to it
    assert {f["message"]["id"] for f in gone} == {second["id"], reply["id"], new_reply["id"]}
    assert all(f["message"]["deleted"] and f["message"]["content"] == "" for f in gone)
    await ws.close()

    visible = [m.content for m in await _messages(conversation) if not m.deleted and m.is_active]
    assert visible == ["Evening, Alice. I'm Mira. Tea?", "one", "You said: one"]


async def test_history_sync_after_a_drop_returns_exactly_what_was_missed(conversation, user, login):
    sid = await login(user)
    tab_a = await open_socket(conversation.pk, sid)
    await tab_a.send({"type": "history.sync", "after_seq": 0})  # page load: the greeting
    seen = (await tab_a.recv())["messages"]
    await tab_a.send({"type": "message.send", "text": "before the drop", "client_id": "h-1"})
    seen += [f["message"] for f in await tab_a.recv_until("message.done") if "message" in f]
    seen_ids = {m["id"] for m in seen}
    high_water = max(m["changed_seq"] for m in seen)
    await tab_a.close()  # connection drops

    tab_b = await open_socket(conversation.pk, sid)
    await tab_b.send({"type": "message.send", "text": "while A was away", "client_id": "h-2"})
    missed = await tab_b.recv_until("message.done")
    await tab_b.send({"type": "message.edit", "message_id": missed[0]["message"]["id"], "text": "edited while away"})
    await tab_b.recv_until("message.updated")
    await tab_b.recv_until("message.done")  # an edit is answered again: let that reply finish while A is away
    await tab_b.close()

    tab_a = await open_socket(conversation.pk, sid)
    await tab_a.send({"type": "history.sync", "after_seq": high_water})
    history = await tab_a.recv()
    assert history["type"] == "history"
    got = history["messages"]
    ids = [m["id"] for m in got]
    assert len(ids) == len(set(ids))  # no duplicates
    assert not seen_ids & set(ids)  # nothing already seen
    all_rows = await _messages(conversation)
    assert set(ids) == {m.pk for m in all_rows if m.pk not in seen_ids}  # nothing missing
    by_id = {m["id"]: m for m in got}
    assert by_id[missed[0]["message"]["id"]]["content"] == "edited while away"
    assert by_id[missed[-1]["message"]["id"]]["status"] == "complete"
    assert history["last_seq"] == max(m.changed_seq for m in all_rows)

    # a full resync from 0 returns every row once, in change order
    await tab_a.send({"type": "history.sync", "after_seq": 0})
    full = await tab_a.recv()
    assert [m["id"] for m in full["messages"]] == [m.pk for m in sorted(all_rows, key=lambda m: m.changed_seq)]
    await tab_a.close()


async def test_two_sockets_of_the_same_user_see_the_same_stream(conversation, user, login, scripted_backend):
    scripted_backend.replies = ["Both tabs see this."]
    sid = await login(user)
    tab_a, tab_b = await open_socket(conversation.pk, sid), await open_socket(conversation.pk, sid)
    await tab_a.send({"type": "message.send", "text": "hi both", "client_id": "t-1"})
    frames_a = await tab_a.recv_until("message.done")
    frames_b = await tab_b.recv_until("message.done")
    assert frames_a == frames_b
    assert frames_b[-1]["message"]["content"] == "Both tabs see this."
    await tab_a.close()
    await tab_b.close()
