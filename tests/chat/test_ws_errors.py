"""Bad input, auth, privacy, backend failures and disconnects on the websocket."""

from __future__ import annotations

import pytest

from companion.chat.models import Conversation, Message
from companion.chat.services import conversation_start
from companion.llm.base import BackendUnavailable
from tests.chat.conftest import communicator, open_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def _count(conversation) -> int:
    return await Message.objects.filter(conversation=conversation).acount()


async def _still_open(ws) -> None:
    await ws.send({"type": "history.sync", "after_seq": 10_000})
    assert (await ws.recv())["type"] == "history"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "bad_json"),
        ('"just a string"', "invalid_frame"),
        ('{"text": "no type"}', "invalid_frame"),
        ('{"type": "message.fly", "text": "x"}', "unknown_type"),
        ('{"type": "message.send", "client_id": "x"}', "invalid_frame"),
        ('{"type": "message.send", "text": "hi"}', "invalid_frame"),
        ('{"type": "message.send", "text": 42, "client_id": "x"}', "invalid_frame"),
        ('{"type": "message.send", "text": "   ", "client_id": "x"}', "empty_text"),
        ('{"type": "message.regenerate"}', "invalid_frame"),
        ('{"type": "message.regenerate", "message_id": "abc"}', "invalid_frame"),
        ('{"type": "history.sync", "after_seq": -1}', "invalid_frame"),
    ],
)
async def test_bad_frames_get_a_specific_error_and_the_socket_stays_open(conversation, user, login, raw, code):
    ws = await open_socket(conversation.pk, await login(user))
    before = await _count(conversation)
    await ws.send(raw)
    error = await ws.recv()
    assert error["type"] == "error"
    assert error["code"] == code
    assert error["detail"]
    await _still_open(ws)
    assert await _count(conversation) == before
    await ws.close()


async def test_text_over_the_limit_is_refused(conversation, user, login, settings):
    settings.CHAT_MAX_MESSAGE_CHARS = 50
    ws = await open_socket(conversation.pk, await login(user))
    await ws.send({"type": "message.send", "text": "x" * 51, "client_id": "long"})
    assert (await ws.recv())["code"] == "too_long"
    await ws.send({"type": "message.send", "text": "x" * 50, "client_id": "long"})  # the same id is still free
    frames = await ws.recv_until("message.done")
    assert frames[0]["message"]["content"] == "x" * 50
    await ws.close()


async def test_message_ids_from_another_conversation_are_not_found(conversation, user, other_user, persona, login):
    from asgiref.sync import sync_to_async

    theirs = await sync_to_async(conversation_start)(owner=other_user, persona=persona)
    foreign = await Message.objects.filter(conversation=theirs).afirst()  # bob's greeting
    ws = await open_socket(conversation.pk, await login(user))
    for frame in (
        {"type": "message.regenerate", "message_id": foreign.pk},
        {"type": "message.select", "message_id": foreign.pk},
        {"type": "message.edit", "message_id": foreign.pk, "text": "mine now"},
        {"type": "message.delete", "message_id": foreign.pk},
    ):
        await ws.send(frame)
        error = await ws.recv()
        assert (error["type"], error["code"]) == ("error", "not_found"), frame
    await ws.close()
    await foreign.arefresh_from_db()
    assert (foreign.content, foreign.deleted, foreign.is_active) == ("Evening, Bob. I'm Mira. Tea?", False, True)
    assert await _count(theirs) == 1


async def test_flooding_past_the_rate_limit_is_refused(conversation, user, login, settings):
    settings.CHAT_RATE_LIMIT = "3/m"
    ws = await open_socket(conversation.pk, await login(user))
    for i in range(3):
        await ws.send({"type": "message.send", "text": f"m{i}", "client_id": f"f-{i}"})
        await ws.recv_until("message.done")
    await ws.send({"type": "message.send", "text": "one too many", "client_id": "f-3"})
    error = await ws.recv()
    assert error["code"] == "rate_limited"
    await _still_open(ws)
    await ws.close()
    users = await Message.objects.filter(conversation=conversation, role="user").acount()
    assert users == 3


async def test_a_second_message_while_a_reply_streams_is_busy(conversation, user, login, scripted_backend):
    scripted_backend.token_delay_s = 0.05
    scripted_backend.replies = ["a fairly long reply that takes a while to stream out"]
    ws = await open_socket(conversation.pk, await login(user))
    await ws.send({"type": "message.send", "text": "first", "client_id": "b-1"})
    await ws.recv_until("message.delta")
    await ws.send({"type": "message.send", "text": "second", "client_id": "b-2"})
    frames = await ws.recv_until("error")
    assert frames[-1]["code"] == "busy"
    await ws.recv_until("message.done")
    await ws.close()
    texts = [m.content async for m in Message.objects.filter(conversation=conversation, role="user")]
    assert texts == ["first"]  # the refused one was not stored; the client still has it


async def test_anonymous_socket_is_closed_4401(conversation):
    comm = communicator(conversation.pk, None)
    connected, _ = await comm.connect()
    assert connected
    closed = await comm.receive_output()
    assert closed == {"type": "websocket.close", "code": 4401}


async def test_someone_elses_or_a_missing_conversation_is_closed_4403(conversation, other_user, login):
    sid = await login(other_user)
    for conversation_id in (conversation.pk, conversation.pk + 999):
        comm = communicator(conversation_id, sid)
        assert (await comm.connect())[0]
        assert await comm.receive_output() == {"type": "websocket.close", "code": 4403}


async def test_other_users_do_not_receive_my_stream(conversation, user, other_user, persona, login):
    from asgiref.sync import sync_to_async

    theirs = await sync_to_async(conversation_start)(owner=other_user, persona=persona)
    mine = await open_socket(conversation.pk, await login(user))
    bobs = await open_socket(theirs.pk, await login(other_user))
    await mine.send({"type": "message.send", "text": "private words", "client_id": "p-1"})
    await mine.recv_until("message.done")
    assert await bobs.nothing_more(wait_s=0.3)
    await mine.close()
    await bobs.close()


async def test_backend_failure_mid_stream_keeps_partial_text_as_failed_and_retry_works(
    conversation, user, login, scripted_backend
):
    scripted_backend.replies = ["one two three four five six"]
    scripted_backend.fail_after = 3
    ws = await open_socket(conversation.pk, await login(user))
    await ws.send({"type": "message.send", "text": "go", "client_id": "x-1"})
    frames = await ws.recv_until("error")
    done = next(f for f in frames if f["type"] == "message.done")["message"]
    assert done["status"] == "failed"
    assert done["content"] == "one two three "
    assert frames[-1]["code"] == "backend_error"
    reply = await Message.objects.aget(pk=done["id"])
    assert (reply.status, reply.content) == ("failed", "one two three ")

    # retry = regenerate; the failed version stays as an alternative
    scripted_backend.fail_after = None
    scripted_backend.replies = ["all good now"]
    await ws.send({"type": "message.regenerate", "message_id": done["id"]})
    retry = (await ws.recv_until("message.done"))[-1]["message"]
    assert (retry["status"], retry["content"]) == ("complete", "all good now")
    assert retry["alternative_ids"] == [done["id"], retry["id"]]
    await ws.close()


async def test_backend_unavailable_sends_its_own_code(conversation, user, login, scripted_backend):
    async def down(*args, **kwargs):
        raise BackendUnavailable("connection refused")
        yield  # pragma: no cover

    scripted_backend.stream = down
    ws = await open_socket(conversation.pk, await login(user))
    await ws.send({"type": "message.send", "text": "anyone?", "client_id": "u-1"})
    frames = await ws.recv_until("error")
    assert frames[-1]["code"] == "backend_unavailable"
    assert next(f for f in frames if f["type"] == "message.done")["message"]["status"] == "failed"
    user_message = await Message.objects.aget(conversation=conversation, client_id="u-1")
    assert user_message.content == "anyone?"  # what the user typed is never lost
    await ws.close()


async def test_a_reply_keeps_generating_after_its_socket_drops_and_a_new_socket_resumes_it(
    conversation, user, login, scripted_backend
):
    """A reload or lost signal must not end the reply: it finishes, and the reloaded page picks it up
    (history carries the exact text so far, the following deltas continue at their offsets)."""
    scripted_backend.token_delay_s = 0.02
    words = [f"word{i}" for i in range(59)] + ["word59."]
    scripted_backend.replies = [" ".join(words)]
    sid = await login(user)
    ws = await open_socket(conversation.pk, sid)
    await ws.send({"type": "message.send", "text": "talk", "client_id": "d-1"})
    frames = []
    while sum(f["type"] == "message.delta" for f in frames) < 5:
        frames.append(await ws.recv())
    await ws.close()  # the tab reloads

    again = await open_socket(conversation.pk, sid)
    await again.send({"type": "history.sync", "after_seq": 0})
    history = await again.recv_until("history")
    reply = next(m for m in history[-1]["messages"] if m["role"] == "persona" and m["seq"] == 3)
    assert reply["status"] == "streaming"
    text = reply["content"]
    assert text.startswith("word0 word1 word2 word3")
    done = None
    while done is None:
        frame = await again.recv()
        if frame["type"] == "message.delta" and frame["message_id"] == reply["id"]:
            if frame["offset"] + len(frame["text"]) > len(text):  # what the page adds: only the new tail
                assert frame["offset"] <= len(text), "a gap between the live text and the next delta"
                text += frame["text"][len(text) - frame["offset"]:]
        elif frame["type"] == "message.done":
            done = frame["message"]
    assert done["status"] == "complete"
    assert text == done["content"] == " ".join(words)
    assert scripted_backend.cancelled == 0
    await again.close()


async def test_stop_frame_interrupts_the_reply_for_every_tab(conversation, user, login, scripted_backend):
    scripted_backend.token_delay_s = 0.05
    scripted_backend.replies = [" ".join(f"w{i}" for i in range(100))]
    sid = await login(user)
    tab_a, tab_b = await open_socket(conversation.pk, sid), await open_socket(conversation.pk, sid)
    await tab_a.send({"type": "message.send", "text": "talk", "client_id": "s-1"})
    await tab_b.recv_until("message.delta")
    await tab_b.send({"type": "message.stop"})  # the other tab presses stop
    for tab in (tab_a, tab_b):
        done = (await tab.recv_until("message.done"))[-1]["message"]
        assert done["status"] == "interrupted" and done["content"]
    await tab_a.close()
    await tab_b.close()


@pytest.mark.redis
async def test_redis_channel_layer_fans_out_to_both_sockets(conversation, user, login, settings, redis_url):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [redis_url]}}
    }
    from channels.layers import get_channel_layer

    assert type(get_channel_layer()).__name__ == "RedisChannelLayer"
    sid = await login(user)
    sender, watcher = await open_socket(conversation.pk, sid), await open_socket(conversation.pk, sid)
    await sender.send({"type": "message.send", "text": "over redis", "client_id": "rd-1"})
    sent = await sender.recv_until("message.done")
    seen = await watcher.recv_until("message.done")
    assert sent == seen
    assert seen[-1]["message"]["content"] == "You said: over redis"
    await sender.close()
    await watcher.close()


def test_conversation_selectors_are_owner_scoped(conversation, other_user):
    from companion.chat.selectors import conversation_get_for, conversation_list_for

    assert conversation_get_for(user=other_user, conversation_id=conversation.pk) is None
    assert list(conversation_list_for(user=other_user)) == []
    assert list(conversation_list_for(user=conversation.owner)) == [Conversation.objects.get(pk=conversation.pk)]


async def test_frame_types_other_apps_register_reach_their_handlers(conversation, user, login, monkeypatch):
    from companion.chat import frames

    calls = []

    async def handle(consumer, frame):
        calls.append(frame)
        await consumer.send_frame({"type": "scene.noted", "user": consumer.user.username})

    monkeypatch.setattr(frames, "_handlers", {**frames._handlers, "scene.note": handle})
    ws = await open_socket(conversation.pk, await login(user))
    await ws.send({"type": "scene.note", "text": "rain"})
    assert await ws.recv() == {"type": "scene.noted", "user": "alice"}
    await ws.send({"type": "scene.explode"})
    assert (await ws.recv())["code"] == "unknown_type"
    assert [c["type"] for c in calls] == ["scene.note"]
    await ws.close()


async def test_evolve_registers_its_render_frames_at_startup():
    from companion.chat.frames import frame_handler
    from companion.evolve.ws import HANDLERS

    for frame_type in ("render.request", "render.preview", "render.cancel"):
        assert frame_handler(frame_type) is HANDLERS[frame_type]
    assert frame_handler("render.explode") is None
