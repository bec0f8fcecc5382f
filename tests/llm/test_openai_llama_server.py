"""OpenAICompatibleBackend against a real llama.cpp server (``python -m llama_cpp.server``, packaged GGUF).

The fake server in openai_server.py pins the exact requests; this proves the
backend works with a server people actually run: streaming, closing the
stream ends the request on the server, JSON-schema structured output, and a
server that is down.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

import psutil
import pytest
from pydantic import BaseModel, Field

from companion.llm.base import BackendUnavailable, ChatTurn, SamplingParams
from companion.llm.model_files import embedded_gguf_path
from companion.llm.openai_compat import OpenAICompatibleBackend
from companion.llm.registry import set_backend
from tests.llm.llama_server import MODEL_ALIAS, LlamaServer
from tests.llm.openai_server import free_port
from tests.llm.test_llm_check import run_check

pytestmark = pytest.mark.slow

TURNS = [
    ChatTurn("system", "You are Mia, a cheerful barista who loves coffee."),
    ChatTurn("user", "Hi Mia! What is your favourite drink?"),
]
LONG = [ChatTurn("user", "Write a very long story about a lighthouse keeper and the sea, in many chapters.")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = LlamaServer(embedded_gguf_path(), tmp_path_factory.mktemp("llama") / "server.log").start()
    yield server
    server.stop()


def backend_for(url: str, **kwargs) -> OpenAICompatibleBackend:
    options = {"model": "", "timeout_s": 30.0}
    return OpenAICompatibleBackend(base_url=url, **(options | kwargs))


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


async def test_lists_the_served_model_and_uses_it_when_none_is_configured(server):
    backend = backend_for(server.url)

    assert await backend.list_models() == [MODEL_ALIAS]
    await backend.healthcheck()
    deltas = [d async for d in backend.stream(TURNS, params=SamplingParams(temperature=0, max_tokens=16))]

    assert backend.model == MODEL_ALIAS
    assert len(deltas) >= 3, "the reply must arrive in pieces"
    assert "".join(deltas).strip()


async def test_a_seed_reproduces_the_reply_and_stop_strings_apply(server):
    backend = backend_for(server.url)
    params = SamplingParams(temperature=1.0, max_tokens=24, seed=42)

    first = "".join([d async for d in backend.stream(TURNS, params=params)])
    again = "".join([d async for d in backend.stream(TURNS, params=params)])
    word = first.split()[len(first.split()) // 2]
    with_stop = SamplingParams(temperature=1.0, max_tokens=24, seed=42, stop=(word,))
    stopped = "".join([d async for d in backend.stream(TURNS, params=with_stop)])

    assert first == again
    assert stopped == first[: first.index(word)]


async def test_closing_the_stream_ends_the_request_on_the_server(server):
    backend = backend_for(server.url)
    stream = backend.stream(LONG, params=SamplingParams(temperature=0.7, max_tokens=1500, seed=3))
    for _ in range(5):
        await anext(stream)
    busy_from = cpu_seconds(server.process.pid)
    for _ in range(10):
        await anext(stream)
    assert cpu_seconds(server.process.pid) > busy_from, "the server should be generating"

    await stream.aclose()
    await asyncio.sleep(1.0)  # it notices at its next token
    idle_from = cpu_seconds(server.process.pid)
    await asyncio.sleep(2.0)

    assert cpu_seconds(server.process.pid) - idle_from < 0.5, "the server kept generating after the client left"
    assert "Disconnected from client" in server.log
    # and it serves the next request at once
    started = time.monotonic()
    assert [d async for d in backend.stream(TURNS, params=SamplingParams(temperature=0, max_tokens=2))]
    assert time.monotonic() - started < 10


class Memory(BaseModel):
    kind: Literal["fact", "preference", "event"]
    text: str = Field(max_length=40)
    importance: int = Field(ge=1, le=5)


async def test_structured_output_follows_the_json_schema(server):
    backend = backend_for(server.url)
    turns = [
        ChatTurn("system", "Extract one memory about the user from their message."),
        ChatTurn("user", "I adopted a cat called Pixel last week and I love her."),
    ]

    for seed in (1, 2, 3):
        memory = await backend.complete_json(
            turns, schema=Memory, params=SamplingParams(temperature=0.7, max_tokens=120, seed=seed)
        )
        assert isinstance(memory, Memory)
        assert memory.text


async def test_a_server_that_is_down_is_unavailable():
    backend = backend_for(f"http://127.0.0.1:{free_port()}/v1", model="smollm2", connect_retries=1, timeout_s=2.0)

    with pytest.raises(BackendUnavailable, match="unreachable"):
        await backend.healthcheck()
    with pytest.raises(BackendUnavailable, match="unreachable"):
        await anext(backend.stream(TURNS, params=SamplingParams(max_tokens=4)))
    with pytest.raises(BackendUnavailable, match="unreachable"):
        await backend.complete_json(TURNS, schema=Memory, params=SamplingParams(max_tokens=40))
    with pytest.raises(BackendUnavailable, match="unreachable"):
        await backend.list_models()


def test_llm_check_reports_what_the_server_answers(server, settings):
    settings.LLM_BACKEND = "openai"
    settings.LLM_BASE_URL = server.url
    settings.LLM_MODEL = ""
    set_backend(None)  # the autouse scripted backend fixture puts it back

    output, error = run_check()

    assert error is None, output
    assert f"models: {MODEL_ALIAS} [" in output
    assert "structured output: yes {" in output
