"""EmbeddedBackend with the real SmolLM2-135M model (loaded once for this module)."""

from __future__ import annotations

import asyncio
from typing import Literal

import pytest
import torch
from pydantic import BaseModel, Field

from companion.llm.base import BackendUnavailable, ChatTurn, SamplingParams
from companion.llm.embedded import DeltaStreamer, EmbeddedBackend, GenerationRecord

TURNS = [
    ChatTurn("system", "You are Mia, a cheerful barista who loves coffee."),
    ChatTurn("user", "Hi Mia! What is your favourite drink?"),
]
GREEDY = SamplingParams(temperature=0.0, max_tokens=24)


@pytest.fixture(scope="module")
def backend() -> EmbeddedBackend:
    backend = EmbeddedBackend()
    backend.load()  # once per process; later fixtures and tests reuse it
    return backend


@pytest.fixture(scope="module")
def greedy_reference(backend) -> str:
    """The model's own greedy reply, generated without our streaming machinery."""
    loaded = backend.load()
    inputs = loaded.prompt_ids(TURNS)
    with torch.inference_mode():
        output = loaded.model.generate(
            **inputs,
            max_new_tokens=GREEDY.max_tokens,
            do_sample=False,
            repetition_penalty=backend.repetition_penalty,
            pad_token_id=loaded.tokenizer.eos_token_id,
        )
    return loaded.tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


@pytest.mark.slow
async def test_streams_the_models_reply_as_several_deltas(backend, greedy_reference):
    deltas = [d async for d in backend.stream(TURNS, params=GREEDY)]

    assert len(deltas) >= 3
    assert all(deltas)
    assert "".join(deltas) == greedy_reference
    assert greedy_reference.strip()
    record = backend.last_generation
    assert record.done.is_set() and not record.stopped_early
    assert 0 < record.new_tokens <= GREEDY.max_tokens


@pytest.mark.slow
async def test_stop_string_ends_the_reply_before_it(backend, greedy_reference):
    words = greedy_reference.split()
    stop = " " + words[len(words) // 2]
    expected = greedy_reference[: greedy_reference.index(stop)]

    deltas = [d async for d in backend.stream(TURNS, params=SamplingParams(temperature=0, max_tokens=24, stop=(stop,)))]

    assert "".join(deltas) == expected
    assert backend.last_generation.stopped_early


@pytest.mark.slow
async def test_closing_the_stream_stops_generation(backend):
    stream = backend.stream(TURNS, params=SamplingParams(max_tokens=200, seed=1))
    for _ in range(3):
        await anext(stream)
    await stream.aclose()

    record = backend.last_generation
    assert await asyncio.to_thread(record.done.wait, 10), "generation thread still running"
    assert record.stopped_early
    assert record.new_tokens < 20  # of 200 allowed


@pytest.mark.slow
async def test_cancelling_the_consumer_stops_generation(backend):
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in backend.stream(TURNS, params=SamplingParams(max_tokens=200, seed=2)):
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 60)
    record = backend.last_generation
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert await asyncio.to_thread(record.done.wait, 10), "generation thread still running"
    assert record.new_tokens < 20


@pytest.mark.slow
async def test_concurrent_chats_take_turns_on_the_model(backend):
    params = SamplingParams(max_tokens=6, seed=3)

    async def chat() -> str:
        return "".join([d async for d in backend.stream(TURNS, params=params)])

    replies = await asyncio.gather(chat(), chat())

    assert all(replies)
    first, second = sorted(list(backend.recent_generations)[-2:], key=lambda r: r.started_at)
    assert second.started_at >= first.finished_at  # queued, not interleaved


class Memory(BaseModel):
    kind: Literal["fact", "preference", "event"]
    text: str = Field(max_length=40)  # <= 4 tokens per character: always fits in max_tokens
    importance: int = Field(ge=1, le=5)


@pytest.mark.slow
async def test_complete_json_returns_a_valid_instance(backend):
    turns = [
        ChatTurn("system", "Extract one memory about the user from their message."),
        ChatTurn("user", "I adopted a cat called Pixel last week and I love her."),
    ]

    params = SamplingParams(temperature=0.7, max_tokens=200, seed=5)

    memory = await backend.complete_json(turns, schema=Memory, params=params)

    assert isinstance(memory, Memory)  # valid by construction, whatever the model wanted to say
    assert memory.text


@pytest.mark.slow
def test_count_tokens_is_what_the_text_costs_in_the_prompt(backend):
    loaded = backend.load()
    text = "I adopted a cat called Pixel last week, and she's wonderful! 🐈"

    def prompt_len(content: str) -> int:
        return loaded.prompt_ids([ChatTurn("user", content)])["input_ids"].shape[1]

    assert backend.count_tokens(text) == prompt_len(text) - prompt_len("")
    assert backend.count_tokens(text) != len(text) // 4  # really tokenized, not estimated


# --- the streamer's text handling, with a character-per-token stand-in tokenizer ----


class CharTokenizer:
    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return "".join(chr(i) for i in ids)


def feed(text: str, stop: tuple[str, ...]) -> tuple[list[str], GenerationRecord]:
    deltas: list[str] = []
    record = GenerationRecord()
    streamer = DeltaStreamer(CharTokenizer(), record, stop, deltas.append)
    streamer.put(torch.tensor([[1, 2, 3]]))  # the prompt, which must not be echoed
    for char in text:
        if record.stop.is_set():  # what generate() does when the stopping criteria fire
            break
        streamer.put(torch.tensor([ord(char)]))
    streamer.end()
    return deltas, record


def test_streamer_never_emits_a_stop_string_split_across_tokens():
    deltas, record = feed("Sure thing!\nUser: hi", stop=("\nUser:",))

    assert "".join(deltas) == "Sure thing!"
    assert record.stop.is_set() and record.stopped_early


def test_streamer_flushes_a_held_back_partial_stop_string_at_the_end():
    deltas, record = feed("See you\nUs", stop=("\nUser:",))

    assert "".join(deltas) == "See you\nUs"
    assert not record.stop.is_set()
    assert record.new_tokens == len("See you\nUs")


# --- a missing or broken model file is a clear BackendUnavailable -----------------


async def test_missing_model_file_is_unavailable(settings, tmp_path):
    settings.EMBEDDED_LLM_GGUF = str(tmp_path / "nope.gguf")

    with pytest.raises(BackendUnavailable, match=r"nope\.gguf is not a file"):
        await EmbeddedBackend().healthcheck()
    with pytest.raises(BackendUnavailable, match=r"nope\.gguf is not a file"):
        await anext(EmbeddedBackend().stream(TURNS, params=GREEDY))


async def test_broken_model_file_is_unavailable_and_reported_by_healthcheck(settings, tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"this is not a GGUF file")
    settings.EMBEDDED_LLM_GGUF = str(broken)
    backend = EmbeddedBackend()

    with pytest.raises(BackendUnavailable, match="could not load the embedded LLM"):
        await anext(backend.stream(TURNS, params=GREEDY))
    with pytest.raises(BackendUnavailable, match=r"broken\.gguf failed to load"):
        await backend.healthcheck()
