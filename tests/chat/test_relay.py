"""The per-token relay path: coalesced deltas, in-process fan-out, batched progress saves."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer

from companion.chat import groups, replies
from companion.chat.models import Message
from tests.chat.conftest import open_socket

pytestmark = pytest.mark.django_db(transaction=True)


def _stitch(deltas: list[dict]) -> str:
    """What a client holds after appending each delta only where ``offset`` says."""
    text = ""
    for d in deltas:
        assert d["offset"] == len(text), "offsets must be contiguous"
        text += d["text"]
    return text


# --- _DeltaRelay on its own ------------------------------------------------------------


async def test_relay_sends_one_frame_per_delta_while_sending_never_waits(monkeypatch):
    frames = []

    async def instant(conversation_id, frame):
        frames.append(frame)

    monkeypatch.setattr(replies, "conversation_broadcast", instant)
    relay = replies._DeltaRelay(7, 42)
    deltas = ["Hello", " there", ", ", "sailor", "."]
    for d in deltas:
        await relay.push(d)
    await relay.close()
    assert [f["text"] for f in frames] == deltas
    assert {f["type"] for f in frames} == {"message.delta"} and {f["message_id"] for f in frames} == {42}
    assert _stitch(frames) == "Hello there, sailor."


async def test_relay_joins_deltas_that_arrive_while_a_frame_is_in_flight(monkeypatch):
    frames = []
    gate = asyncio.Event()

    async def slow(conversation_id, frame):
        frames.append(frame)
        await gate.wait()  # e.g. a Redis round trip under load

    monkeypatch.setattr(replies, "conversation_broadcast", slow)
    relay = replies._DeltaRelay(7, 42)
    words = [f"w{i} " for i in range(50)]
    await relay.push(words[0])  # goes out at once and stays in flight
    for w in words[1:]:
        await relay.push(w)
    assert len(frames) == 1
    gate.set()
    await relay.close()
    # the 49 deltas that arrived meanwhile went out as one frame, exactly
    assert [f["text"] for f in frames] == [words[0], "".join(words[1:])]
    assert _stitch(frames) == "".join(words)


async def test_relay_failure_surfaces_on_the_next_delta(monkeypatch):
    async def broken(conversation_id, frame):
        raise ConnectionError("layer down")

    monkeypatch.setattr(replies, "conversation_broadcast", broken)
    relay = replies._DeltaRelay(7, 42)
    await relay.push("a")
    with pytest.raises(ConnectionError):
        await relay.push("b")


# --- through the websocket ---------------------------------------------------------------


async def test_coalesced_deltas_keep_text_and_offsets_exact_end_to_end(
    conversation, user, login, scripted_backend, monkeypatch
):
    """A slow fan-out makes the relay coalesce; every socket still stitches the exact
    reply from the offsets, and the stored text is the same."""
    real = replies.conversation_broadcast

    async def slow_deltas(conversation_id, frame):
        await real(conversation_id, frame)
        if frame["type"] == "message.delta":
            await asyncio.sleep(0.02)

    monkeypatch.setattr(replies, "conversation_broadcast", slow_deltas)
    reply = " ".join(f"word{i}" for i in range(60)) + "."
    scripted_backend.replies = [reply]  # no delay between tokens: 61 deltas at once
    sid = await login(user)
    tab_a, tab_b = await open_socket(conversation.pk, sid), await open_socket(conversation.pk, sid)
    await tab_a.send({"type": "message.send", "text": "a long one please", "client_id": "co-1"})
    frames_a = await tab_a.recv_until("message.done")
    frames_b = await tab_b.recv_until("message.done")
    assert frames_a == frames_b

    deltas = [f for f in frames_a if f["type"] == "message.delta"]
    assert 1 < len(deltas) < 61  # coalesced, not one frame per token
    assert any(len(d["text"].split()) > 1 for d in deltas)
    assert _stitch(deltas) == reply
    done = frames_a[-1]
    assert done["message"]["status"] == "complete" and done["message"]["content"] == reply
    stored = await Message.objects.aget(pk=done["message"]["id"])
    assert stored.content == reply
    await tab_a.close()
    await tab_b.close()


async def test_frames_reach_sockets_directly_and_a_closed_socket_leaves(conversation, user, login, scripted_backend):
    """In-memory layer: broadcasts skip the layer's queues; a raw group_send still arrives."""
    sid = await login(user)
    ws = await open_socket(conversation.pk, sid)
    members = groups._local_members(get_channel_layer())
    assert len(members[conversation.pk]) == 1

    await groups.conversation_broadcast(conversation.pk, {"type": "message.updated", "message": {"id": 1}})
    assert await ws.recv() == {"type": "message.updated", "message": {"id": 1}}
    await get_channel_layer().group_send(
        groups.conversation_group(conversation.pk),
        {"type": groups.GROUP_MESSAGE_TYPE, "frame": {"type": "message.updated", "message": {"id": 2}}},
    )
    assert (await ws.recv())["message"] == {"id": 2}
    assert await ws.nothing_more()

    await ws.close()
    assert conversation.pk not in members


# --- progress saves ---------------------------------------------------------------------


async def test_growing_text_of_concurrent_replies_is_saved_in_one_batch(
    user, persona, login, scripted_backend, monkeypatch
):
    from asgiref.sync import sync_to_async

    from companion.chat.services import conversation_start

    monkeypatch.setattr(replies, "SAVE_EVERY_S", 0.05)
    batches: list[list[tuple[int, str]]] = []
    real_save = replies._save_progress_many

    def recording_save(items):
        batches.append(list(items))
        real_save(items)

    monkeypatch.setattr(replies, "_save_progress_many", recording_save)
    scripted_backend.token_delay_s = 0.02
    first = " ".join(f"alpha{i}" for i in range(30))
    second = " ".join(f"beta{i}" for i in range(30))
    scripted_backend.replies = [first, second]

    conv_1 = await sync_to_async(conversation_start)(owner=user, persona=persona)
    conv_2 = await sync_to_async(conversation_start)(owner=user, persona=persona)
    sid = await login(user)
    ws_1, ws_2 = await open_socket(conv_1.pk, sid), await open_socket(conv_2.pk, sid)
    await ws_1.send({"type": "message.send", "text": "one", "client_id": "p-1"})
    await ws_2.send({"type": "message.send", "text": "two", "client_id": "p-2"})

    reply_ids = set()
    for ws in (ws_1, ws_2):
        frames = await ws.recv_until("message.delta")
        reply_ids.add(frames[-1]["message_id"])
    # mid-stream: the rows hold a prefix of their text, written by the saver
    for _ in range(100):
        rows = [m async for m in Message.objects.filter(pk__in=reply_ids)]
        if all(m.content for m in rows):
            break
        await asyncio.sleep(0.02)
    assert all(m.status == "streaming" and m.content for m in rows)
    assert all(first.startswith(m.content) or second.startswith(m.content) for m in rows)

    done_1 = (await ws_1.recv_until("message.done"))[-1]["message"]
    done_2 = (await ws_2.recv_until("message.done"))[-1]["message"]
    assert {done_1["content"], done_2["content"]} == {first, second}
    assert any({rid for rid, _ in batch} == reply_ids for batch in batches), "both replies in one write"
    stored = {m.pk: m async for m in Message.objects.filter(pk__in=reply_ids)}
    assert {m.content for m in stored.values()} == {first, second}
    assert all(m.status == "complete" for m in stored.values())
    await ws_1.close()
    await ws_2.close()
