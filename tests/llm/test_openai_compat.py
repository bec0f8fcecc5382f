"""OpenAICompatibleBackend against a real HTTP server speaking the OpenAI streaming format."""

from __future__ import annotations

import asyncio
import logging
import re
import time

import pytest
from pydantic import BaseModel

from companion.llm.base import BackendError, BackendUnavailable, ChatTurn, SamplingParams, StructuredOutputError
from companion.llm.openai_compat import OpenAICompatibleBackend
from tests.llm.openai_server import FakeOpenAI, Hang, Reply, Status, free_port

TURNS = [ChatTurn("system", "You are Mia."), ChatTurn("user", "Hi Mia!")]
MESSAGES = [{"role": "system", "content": "You are Mia."}, {"role": "user", "content": "Hi Mia!"}]


@pytest.fixture
def server():
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


def backend_for(url: str, **kwargs) -> OpenAICompatibleBackend:
    options = {"model": "base-model", "api_key": "sk-test", "timeout_s": 2.0}
    return OpenAICompatibleBackend(base_url=url, **(options | kwargs))


async def collect(backend, **kwargs) -> list[str]:
    return [delta async for delta in backend.stream(TURNS, **kwargs)]


async def test_stream_sends_the_exact_request_with_the_adapter_as_model(server):
    server.script = [Reply(["Hel", "lo", " there"])]
    params = SamplingParams(temperature=0.5, top_p=0.9, max_tokens=42, stop=("\nUser:",), seed=7)

    deltas = await collect(backend_for(server.url), params=params, adapter="mia-lora")

    assert deltas == ["Hel", "lo", " there"]
    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body == {
        "model": "mia-lora",
        "messages": MESSAGES,
        "temperature": 0.5,
        "top_p": 0.9,
        "max_tokens": 42,
        "stop": ["\nUser:"],
        "seed": 7,
        "stream": True,
    }


async def test_without_adapter_the_model_comes_from_settings(server, settings):
    settings.LLM_MODEL = "base-7b-instruct"
    backend = OpenAICompatibleBackend(base_url=server.url, timeout_s=2.0)

    await collect(backend, params=SamplingParams(), adapter=None)

    [request] = server.requests
    assert request.body["model"] == "base-7b-instruct"
    assert "stop" not in request.body and "seed" not in request.body


async def test_without_any_model_setting_the_first_served_model_is_used(server):
    await collect(backend_for(server.url, model=""), params=SamplingParams())

    assert [(r.method, r.path) for r in server.requests] == [("GET", "/v1/models"), ("POST", "/v1/chat/completions")]
    assert server.chat_requests[0].body["model"] == "served-base"


async def test_past_four_stop_strings_the_server_gets_four_and_the_rest_apply_here(server):
    # OpenAI's API and vLLM 0.32 take at most 4 (vLLM answers HTTP 400 to more); the chat sends ~14.
    server.script = [Reply(["Hel", "lo there.\nSa", "m: and", " more"])]
    stops = ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "\nUser:", "\nMia:", "\nSam:")

    deltas = await collect(backend_for(server.url), params=SamplingParams(stop=stops))

    assert "".join(deltas) == "Hello there."
    assert server.chat_requests[0].body["stop"] == list(stops[:4])


class Mood(BaseModel):
    mood: str
    score: int


async def test_complete_json_asks_for_the_schema_and_validates(server):
    server.script = [Reply(['{"mood": "ha', 'ppy", "score"', ": 8}"])]

    result = await backend_for(server.url).complete_json(TURNS, schema=Mood, params=SamplingParams(temperature=0))

    assert result == Mood(mood="happy", score=8)
    body = server.chat_requests[0].body
    assert body["model"] == "base-model"
    assert body["messages"] == MESSAGES
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Mood", "schema": Mood.model_json_schema()},
    }


async def test_complete_json_falls_back_to_json_object_when_the_server_refuses_json_schema(server):
    # What llama-cpp-python's server answers to OpenAI's json_schema format.
    refusal = "1 validation error: body.response_format.type: Input should be 'text' or 'json_object'"
    replies = [Reply(['{"mood": "calm", "score": 3}']), Reply(['{"mood": "ok", "score": 5}'])]
    server.script = [Status(500, refusal), *replies]
    backend = backend_for(server.url)

    first = await backend.complete_json(TURNS, schema=Mood, params=SamplingParams(temperature=0))
    second = await backend.complete_json(TURNS, schema=Mood, params=SamplingParams(temperature=0))

    assert (first, second) == (Mood(mood="calm", score=3), Mood(mood="ok", score=5))
    formats = [r.body["response_format"]["type"] for r in server.chat_requests]
    assert formats == ["json_schema", "json_object", "json_object"]  # the accepted format is remembered
    assert server.chat_requests[1].body["response_format"]["schema"]["type"] == "object"


async def test_a_server_error_unrelated_to_the_format_is_not_retried(server):
    server.script = [Status(500, "out of memory")]

    with pytest.raises(BackendError, match="out of memory"):
        await backend_for(server.url).complete_json(TURNS, schema=Mood, params=SamplingParams())
    assert len(server.chat_requests) == 1


async def test_min_p_and_repetition_penalty_are_sent_when_set(server):
    server.script = [Reply(["hi"])]
    params = SamplingParams(temperature=0.7, min_p=0.05, repetition_penalty=1.15, max_tokens=8)

    await collect(backend_for(server.url), params=params)

    body = server.chat_requests[0].body
    assert body["min_p"] == 0.05
    assert body["repetition_penalty"] == body["repeat_penalty"] == 1.15  # vLLM's name and llama.cpp's


async def test_complete_json_with_invalid_output_raises_structured_output_error(server):
    server.script = [Reply(['{"mood": "happy"}'])]

    with pytest.raises(StructuredOutputError, match="score"):
        await backend_for(server.url).complete_json(TURNS, schema=Mood, params=SamplingParams())


async def test_endpoint_down_is_a_clear_unavailable_error():
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens here
    started = time.monotonic()

    with pytest.raises(BackendUnavailable, match=rf"LLM endpoint {re.escape(url)} unreachable: .*ConnectError"):
        await collect(backend_for(url, connect_retries=2), params=SamplingParams())

    assert time.monotonic() - started < 5


async def test_connection_refused_is_retried_then_succeeds():
    port = free_port()
    late = FakeOpenAI(port)
    late.script = [Reply(["back", " online"])]

    class StartServerOnRetry(logging.Handler):
        """The endpoint comes up while the transport waits to retry connecting: a vLLM restart."""

        retries = 0

        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("retry.started"):
                self.retries += 1
                if late._server is None:
                    late.start()

    handler = StartServerOnRetry()
    transport_log = logging.getLogger("httpcore2.connection")  # traces its connect retries at DEBUG
    level = transport_log.level
    transport_log.addHandler(handler)
    transport_log.setLevel(logging.DEBUG)
    try:
        deltas = await collect(backend_for(late.url, connect_retries=2), params=SamplingParams())
    finally:
        transport_log.removeHandler(handler)
        transport_log.setLevel(level)
        late.stop()

    assert deltas == ["back", " online"]
    assert len(late.chat_requests) == 1
    assert handler.retries == 1  # refused once, connected on the first retry


async def test_connecting_is_not_retried_when_retries_are_off():
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens here
    started = time.monotonic()

    with pytest.raises(BackendUnavailable, match=r"unreachable: .*ConnectError"):
        await collect(backend_for(url, connect_retries=0), params=SamplingParams())

    assert time.monotonic() - started < 0.5  # no backoff waited


async def test_hanging_endpoint_times_out_without_retrying(server):
    server.script = [Hang()]
    started = time.monotonic()

    with pytest.raises(BackendUnavailable, match=r"unreachable: no response within 0\.5 s"):
        await collect(backend_for(server.url, timeout_s=0.5), params=SamplingParams())

    assert time.monotonic() - started < 5
    assert len(server.chat_requests) == 1  # a busy server is not hammered with retries


async def test_endpoint_going_silent_mid_reply_times_out(server):
    server.script = [Reply(["one", " two", " three"], hang_after=2)]
    received: list[str] = []

    with pytest.raises(BackendUnavailable, match="stopped responding mid-reply"):
        async for delta in backend_for(server.url, timeout_s=0.5).stream(TURNS, params=SamplingParams()):
            received.append(delta)

    assert received == ["one", " two"]  # what came before the silence is kept by the caller


async def test_closing_the_stream_closes_the_http_response(server):
    server.script = [Reply([f"t{i} " for i in range(100)], delay_s=0.05)]
    stream = backend_for(server.url).stream(TURNS, params=SamplingParams())

    assert await anext(stream) == "t0 "
    assert await anext(stream) == "t1 "
    await stream.aclose()

    log = server.streams[0]
    assert log.disconnected.wait(3), "the server never saw the client hang up"
    assert log.sent < 20


async def test_cancelling_the_consumer_closes_the_http_response(server):
    server.script = [Reply([f"t{i} " for i in range(100)], delay_s=0.05)]
    backend = backend_for(server.url)
    got_two = asyncio.Event()

    async def consume() -> None:
        n = 0
        async for _delta in backend.stream(TURNS, params=SamplingParams()):
            n += 1
            if n == 2:
                got_two.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_two.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    log = server.streams[0]
    assert log.disconnected.wait(3), "the server never saw the client hang up"
    assert log.sent < 20


async def test_unknown_adapter_is_a_backend_error_not_unavailable(server):
    server.script = [Status(404, "The model `nobody-lora` does not exist.")]

    with pytest.raises(BackendError, match=r"HTTP 404.*nobody-lora") as caught:
        await collect(backend_for(server.url), params=SamplingParams(), adapter="nobody-lora")

    assert not isinstance(caught.value, BackendUnavailable)


async def test_overloaded_server_is_unavailable(server):
    server.script = [Status(503, "overloaded")]

    with pytest.raises(BackendUnavailable, match="HTTP 503"):
        await collect(backend_for(server.url), params=SamplingParams())


async def test_healthcheck(server):
    await backend_for(server.url).healthcheck()
    assert [(r.method, r.path) for r in server.requests] == [("GET", "/v1/models")]

    down = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(BackendUnavailable, match=re.escape(down)):
        await backend_for(down).healthcheck()
