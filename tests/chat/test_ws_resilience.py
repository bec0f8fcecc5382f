"""A socket never dies on a server-side failure: what the user gets instead, and what is kept."""

from __future__ import annotations

import dramatiq
import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError

from companion.chat import services
from companion.chat.models import Message
from companion.memory.models import Memory
from tests.chat.conftest import open_socket
from tests.workers import running_worker

pytestmark = pytest.mark.django_db(transaction=True)


async def _still_open(ws) -> None:
    await ws.send({"type": "history.sync", "after_seq": 10_000})
    assert (await ws.recv())["type"] == "history"


async def test_a_bug_in_a_frame_handler_answers_internal_with_its_request_id_and_the_socket_stays(
    conversation, user, login, monkeypatch, caplog
):
    def broken(**kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(services, "exchange_begin", broken)
    ws = await open_socket(conversation.pk, await login(user))
    await ws.send({"type": "message.send", "text": "hello", "client_id": "b-1"})
    error = await ws.recv()
    assert error["type"] == "error" and error["code"] == "internal"
    assert error["request_id"] in error["detail"]
    assert "KeyError" not in error["detail"]  # internals stay in the log
    assert error["request_id"] in caplog.text  # ...where the id finds them
    await _still_open(ws)
    await ws.close()


async def test_a_locked_database_is_retried_once_and_the_message_is_stored_once(
    conversation, user, login, monkeypatch
):
    real = services.exchange_begin
    failures = iter([OperationalError("database is locked")])

    def locked_once(**kwargs):
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real(**kwargs)

    monkeypatch.setattr(services, "exchange_begin", locked_once)
    ws = await open_socket(conversation.pk, await login(user))
    await ws.send({"type": "message.send", "text": "hello", "client_id": "l-1"})
    frames = await ws.recv_until("message.done")
    assert not [f for f in frames if f["type"] == "error"]
    assert await Message.objects.filter(conversation=conversation, role="user").acount() == 1
    await ws.close()


async def test_a_database_still_locked_after_the_retry_answers_busy_and_stores_nothing(
    conversation, user, login, monkeypatch
):
    def always_locked(**kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(services, "exchange_begin", always_locked)
    ws = await open_socket(conversation.pk, await login(user))
    await ws.send({"type": "message.send", "text": "hello", "client_id": "l-2"})
    error = await ws.recv(wait_s=5)
    assert error["type"] == "error" and error["code"] == "busy"
    assert await Message.objects.filter(conversation=conversation, role="user").acount() == 0
    await _still_open(ws)
    await ws.close()


async def test_each_reply_gets_its_own_seed_recorded_on_the_row(conversation, user, login, scripted_backend):
    ws = await open_socket(conversation.pk, await login(user))
    await ws.send({"type": "message.send", "text": "hi", "client_id": "s-1"})
    reply = (await ws.recv_until("message.done"))[-1]["message"]
    await ws.send({"type": "message.regenerate", "message_id": reply["id"]})
    await ws.recv_until("message.done")
    await ws.close()
    seeds = [call["params"].seed for call in scripted_backend.calls]
    assert len(seeds) == 2 and None not in seeds and seeds[0] != seeds[1]
    rows = [m async for m in Message.objects.filter(conversation=conversation, role="persona", seq__gt=1)]
    assert sorted(m.extra["seed"] for m in rows) == sorted(seeds)


async def test_editing_the_last_message_makes_memory_forget_the_old_text_and_learn_the_new(
    conversation, user, login, settings
):
    settings.MEMORY_LLM_EXTRACTION = False  # the rules are enough to see what is remembered
    drain = sync_to_async(lambda: dramatiq.get_broker().join("default", timeout=30_000))
    with running_worker():
        ws = await open_socket(conversation.pk, await login(user))
        await ws.send({"type": "message.send", "text": "I have a cat named Pixel.", "client_id": "m-1"})
        sent = (await ws.recv_until("message.done"))[0]["message"]
        await drain()
        before = [m.text async for m in Memory.objects.filter(user=user)]
        assert any("Pixel" in text for text in before), before

        await ws.send({"type": "message.edit", "message_id": sent["id"], "text": "I have a dog named Rex."})
        await ws.recv_until("message.done")
        await drain()
        await ws.close()
    after = [m.text async for m in Memory.objects.filter(user=user)]
    assert not any("Pixel" in text for text in after), after
    assert any("Rex" in text for text in after), after


async def test_the_prompt_build_computes_no_embedding_on_the_shared_db_thread(
    conversation, user, persona, login, monkeypatch
):
    """The memory section embeds the user's message; that runs before the build, in a worker thread."""
    from companion.llm import guard
    from companion.memory import embeddings
    from companion.memory.services import memory_create

    await sync_to_async(memory_create)(user=user, persona=persona, text="Alice has a cat named Pixel.")
    embeddings.query_cache_clear()
    where: list[bool] = []
    real_embed = embeddings.embed

    def recording_embed(texts, **kwargs):
        where.append(guard._on_db_thread.get())
        return real_embed(texts, **kwargs)

    monkeypatch.setattr(embeddings, "embed", recording_embed)
    ws = await open_socket(conversation.pk, await login(user))
    await ws.send({"type": "message.send", "text": "Do you remember my cat?", "client_id": "e-1"})
    await ws.recv_until("message.done", wait_s=30)
    await ws.close()
    assert where, "the memory section never embedded the query"
    assert not any(where), "an embedding ran on the shared DB thread"


async def test_a_cold_embedder_does_not_hold_the_reply(conversation, user, persona, login, monkeypatch, settings):
    """A fresh web process: the embedder is still loading (seconds, a minute under load). The reply
    streams after CHAT_PROMPT_WARMUP_TIMEOUT_S with memory ranked by words; nothing embeds on the DB thread."""
    import threading
    import time

    from companion.chat import replies
    from companion.llm import guard
    from companion.memory import embeddings
    from companion.memory.services import memory_create

    await sync_to_async(memory_create)(user=user, persona=persona, text="Alice has a cat named Pixel.")
    embeddings.query_cache_clear()
    settings.CHAT_PROMPT_WARMUP_TIMEOUT_S = 0.5
    loaded = threading.Event()
    monkeypatch.setattr(replies, "prompt_warm", lambda text: loaded.wait(30))  # the model is still loading
    on_db_thread: list[bool] = []
    real_embed = embeddings.embed
    monkeypatch.setattr(embeddings, "embed", lambda texts, **kw: on_db_thread.append(guard._on_db_thread.get())
                        or real_embed(texts, **kw))
    try:
        ws = await open_socket(conversation.pk, await login(user))
        started = time.monotonic()
        await ws.send({"type": "message.send", "text": "Do you remember my cat Pixel?", "client_id": "cold-1"})
        frames = await ws.recv_until("message.done", wait_s=15)
        took = time.monotonic() - started
        await ws.close()
    finally:
        loaded.set()
    assert frames[-1]["message"]["status"] == "complete"
    assert took < 10, f"the reply waited {took:.1f} s for the embedder"
    assert not any(on_db_thread), "an embedding ran on the shared DB thread"
    reply = await sync_to_async(Message.objects.get)(pk=frames[-1]["message"]["id"])
    assert "Alice has a cat named Pixel." in reply.extra["prompt"]["system"]  # recalled by its words
