"""LlamaCppBackend (the embedded default) with the real SmolLM2-135M GGUF, loaded once per process.

(Just over 400 lines: one backend's tests, sharing one loaded model per process.)
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import threading
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from companion.llm import llama_models, llamacpp
from companion.llm.base import BackendError, BackendUnavailable, ChatTurn, SamplingParams, StructuredOutputError
from companion.llm.llamacpp import LlamaCppBackend, StopText
from companion.llm.structured import parse_structured

TURNS = [
    ChatTurn("system", "You are Mia, a cheerful barista who loves coffee."),
    ChatTurn("user", "Hi Mia! What is your favourite drink?"),
]
GREEDY = SamplingParams(temperature=0.0, max_tokens=24)


@pytest.fixture(scope="module")
def backend() -> LlamaCppBackend:
    backend = LlamaCppBackend()
    backend.load()  # once per process; later fixtures and tests reuse it
    return backend


@pytest.fixture(scope="module")
def greedy_reference(backend) -> str:
    """The model's own greedy reply, through llama-cpp-python's chat completion, not our machinery."""
    loaded = backend.load()
    with loaded.generate_lock.hold():
        out = loaded.llama.create_chat_completion(
            messages=[{"role": t.role, "content": t.content} for t in TURNS],
            temperature=0.0,
            max_tokens=GREEDY.max_tokens,
            repeat_penalty=backend.repetition_penalty,
        )
    return out["choices"][0]["message"]["content"]


async def reply(backend, turns=TURNS, **params) -> str:
    return "".join([d async for d in backend.stream(turns, params=SamplingParams(**params))])


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
    assert record.prompt_tokens > 20


@pytest.mark.slow
async def test_stop_string_ends_the_reply_before_it(backend, greedy_reference):
    words = greedy_reference.split()
    stop = " " + words[len(words) // 2]
    expected = greedy_reference[: greedy_reference.index(stop)]

    deltas = [d async for d in backend.stream(TURNS, params=SamplingParams(temperature=0, max_tokens=24, stop=(stop,)))]

    assert "".join(deltas) == expected
    assert backend.last_generation.stopped_early


@pytest.mark.slow
async def test_closing_the_stream_stops_generation_within_a_token(backend):
    stream = backend.stream(TURNS, params=SamplingParams(max_tokens=200, seed=1))
    for _ in range(3):
        await anext(stream)
    await stream.aclose()

    record = backend.last_generation
    assert await asyncio.to_thread(record.done.wait, 10), "generation thread still running"
    assert record.stopped_early
    assert record.new_tokens - record.tokens_at_cancel <= 1  # it stopped at the next token
    assert record.new_tokens < 50  # of 200 allowed


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
    assert record.stopped_early
    assert record.new_tokens - record.tokens_at_cancel <= 1


@pytest.mark.slow
async def test_concurrent_chats_take_turns_on_the_model(backend):
    params = SamplingParams(max_tokens=6, seed=3)

    async def chat() -> str:
        return "".join([d async for d in backend.stream(TURNS, params=params)])

    replies = await asyncio.gather(chat(), chat())

    assert all(replies)
    first, second = sorted(list(backend.recent_generations)[-2:], key=lambda r: r.started_at)
    assert second.started_at >= first.finished_at  # queued, not interleaved


@pytest.mark.slow
async def test_generation_runs_off_the_event_loop_thread(backend):
    loop_thread = threading.get_ident()
    seen: list[int] = []
    original = llamacpp._run

    def spy(loaded, job):
        seen.append(threading.get_ident())
        return original(loaded, job)

    llamacpp._run = spy
    try:
        await reply(backend, max_tokens=2, seed=1)
    finally:
        llamacpp._run = original
    assert seen and seen[0] != loop_thread


@pytest.mark.slow
async def test_a_seed_reproduces_a_reply_and_different_seeds_differ(backend):
    sampled = {"temperature": 1.0, "top_p": 1.0, "max_tokens": 24}

    first = await reply(backend, seed=11, **sampled)
    again = await reply(backend, seed=11, **sampled)
    others = {await reply(backend, seed=s, **sampled) for s in (12, 13, 14)}

    assert first == again
    assert backend.last_generation.seed == 14
    assert others - {first}, "three other seeds all gave the same reply"


@pytest.mark.slow
async def test_without_a_seed_each_reply_draws_a_fresh_one(backend):
    sampled = {"temperature": 1.0, "top_p": 1.0, "max_tokens": 24}

    replies = {await reply(backend, **sampled) for _ in range(3)}
    seeds = {r.seed for r in list(backend.recent_generations)[-3:]}

    assert len(seeds) == 3
    assert len(replies) >= 2  # regenerate samples afresh


@pytest.mark.slow
async def test_the_next_turn_reuses_the_cached_prompt_prefix(backend):
    persona = ChatTurn("system", "You are Mia, a cheerful barista. " + "You love the harbour at dusk. " * 40)
    first_turns = [persona, ChatTurn("user", "Hello!")]
    first = await reply(backend, first_turns, temperature=0, max_tokens=8)
    cold = backend.last_generation

    # Something else in between (memory extraction, another persona) overwrites the live KV.
    await reply(backend, [ChatTurn("user", "Count to three.")], temperature=0, max_tokens=4)
    await reply(backend, [*first_turns, ChatTurn("assistant", first), ChatTurn("user", "And now?")], max_tokens=4)
    warm = backend.last_generation

    assert cold.prompt_tokens > 300
    assert warm.cached_tokens >= cold.prompt_tokens - 1  # restored, not evaluated again


@pytest.mark.slow
async def test_a_restored_state_answers_as_a_cold_evaluation_does(backend):
    loaded = backend.load()
    chat = [ChatTurn("system", "You are Mia, a barista. " + "The café smells of cinnamon. " * 30)]
    first = await reply(backend, [*chat, ChatTurn("user", "Hi!")], temperature=0, max_tokens=6)
    follow = [*chat, ChatTurn("user", "Hi!"), ChatTurn("assistant", first), ChatTurn("user", "What's new?")]
    await reply(backend, [ChatTurn("user", "Count to three.")], temperature=0, max_tokens=4)

    restored = await reply(backend, follow, temperature=0, max_tokens=16)
    assert backend.last_generation.cached_tokens > 100
    states, loaded.prefix_states = loaded.prefix_states, None
    try:
        await reply(backend, [ChatTurn("user", "Count to four.")], temperature=0, max_tokens=4)
        cold = await reply(backend, follow, temperature=0, max_tokens=16)
        assert backend.last_generation.cached_tokens < 10
    finally:
        loaded.prefix_states = states

    assert restored == cold


@pytest.mark.slow
async def test_a_prompt_longer_than_the_context_is_a_clear_backend_error(backend):
    long = ChatTurn("user", "tell me about the sea " * 600)

    with pytest.raises(BackendError, match=r"exceeds the model's 2048-token context"):
        await reply(backend, [long], max_tokens=10)
    assert await reply(backend, max_tokens=3, seed=1)  # and the model still serves


@pytest.mark.slow
async def test_multibyte_characters_split_across_tokens_come_out_whole(backend):
    turns = [ChatTurn("user", "Reply with only these emoji: 🐈🌊☕🐈🌊☕")]

    text = await reply(backend, turns, temperature=0, max_tokens=24)

    assert "\ufffd" not in text
    text.encode("utf-8")  # no lone surrogates


class Memory(BaseModel):
    kind: Literal["fact", "preference", "event"]
    text: str = Field(max_length=40)
    importance: int = Field(ge=1, le=5)


@pytest.mark.slow
async def test_complete_json_returns_a_valid_instance(backend):
    turns = [
        ChatTurn("system", "Extract one memory about the user from their message."),
        ChatTurn("user", "I adopted a cat called Pixel last week and I love her."),
    ]

    for seed in (5, 6, 7):
        memory = await backend.complete_json(
            turns, schema=Memory, params=SamplingParams(temperature=0.7, max_tokens=200, seed=seed)
        )
        assert isinstance(memory, Memory)  # valid by construction, whatever the model wanted to say
        assert memory.text


class Poem(BaseModel):
    lines: str = Field(max_length=80)


@pytest.mark.slow
def test_json_strings_never_hold_raw_control_characters(backend):
    # llama-cpp-python's own JSON grammar allowed a raw newline inside a string (invalid JSON).
    loaded = backend.load()
    grammar = loaded.grammar_for(Poem)
    ask = 'Write a short poem of four lines, one per line, as JSON: {"lines": "..."}'
    prompt = loaded.formatter(messages=[{"role": "user", "content": ask}]).prompt

    with loaded.generate_lock.hold():
        for seed in (1, 2, 3):
            out = loaded.llama.create_completion(prompt, grammar=grammar, max_tokens=160, temperature=1.0, seed=seed)
            text = out["choices"][0]["text"]
            assert Poem.model_validate(json.loads(text))  # strict JSON: control characters only escaped


def test_structured_output_with_a_raw_newline_in_a_string_is_read_leniently():
    assert parse_structured(Poem, '{"lines": "roses\nviolets"}') == Poem(lines="roses\nviolets")
    with pytest.raises(StructuredOutputError):
        parse_structured(Poem, '{"lines": "unfinished')


@pytest.mark.slow
def test_count_tokens_is_what_the_text_costs_in_the_prompt(backend):
    loaded = backend.load()
    text = "I adopted a cat called Pixel last week, and she's wonderful! 🐈"

    def prompt_len(content: str) -> int:
        return len(loaded.prompt_tokens([ChatTurn("user", content)]))

    assert backend.count_tokens(text) == prompt_len(text) - prompt_len("")
    assert backend.count_tokens(text) != len(text) // 4  # really tokenized, not estimated


@pytest.mark.slow
def test_loading_twice_at_once_loads_once(backend):
    path = backend.path
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(llama_models.load_model(path))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len({id(r) for r in results}) == 1
    assert results[0] is backend.load()


@pytest.mark.slow
def test_the_packaged_gguf_is_requantized_once_and_loaded_from_the_copy(backend, settings, tmp_path):
    from companion.llm.model_files import is_packaged, requantized

    assert is_packaged(backend.path)
    assert backend.load().path.name.endswith(".Q8_0.gguf")  # the default EMBEDDED_LLM_REQUANTIZE
    settings.EMBEDDED_LLM_CACHE_DIR = str(tmp_path)

    copy = requantized(backend.path, "Q8_0")
    made = copy.stat().st_mtime_ns

    assert copy.parent == tmp_path and copy.stat().st_size > backend.path.stat().st_size
    assert requantized(backend.path, "Q8_0") == copy and copy.stat().st_mtime_ns == made  # not made again
    assert not list(tmp_path.glob("*.part"))


def test_requantizing_is_off_for_a_gguf_the_operator_chose(settings, tmp_path):
    chosen = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"  # same name, not the package's folder
    chosen.write_bytes(b"GGUF")

    assert llama_models._model_file(chosen) == chosen
    settings.EMBEDDED_LLM_REQUANTIZE = ""
    from companion.llm.model_files import embedded_gguf_path

    assert llama_models._model_file(embedded_gguf_path()) == embedded_gguf_path()


# --- the prefix-state LRU and stop strings, without a model -------------------------


def saved(tokens: tuple[int, ...], size: int = 10) -> llama_models._SavedState:
    return llama_models._SavedState(tokens=tokens, data=(ctypes.c_uint8 * size)(), size=size)


def test_prefix_states_find_the_longest_shared_prefix_and_stay_within_budget():
    states = llama_models.PrefixStates(capacity_bytes=30)
    states.put(saved((1, 2, 3)))
    states.put(saved((1, 2, 3, 4, 5)))  # the same chat one turn later replaces the older state
    states.put(saved((7, 8)))

    assert len(states) == 2
    best, n = states.best([1, 2, 3, 4, 9])
    assert (best.tokens, n) == ((1, 2, 3, 4, 5), 4)
    assert states.best([5, 5]) == (None, 0)

    states.put(saved((9,)))
    states.put(saved((10,)))  # over budget: the least recently used goes
    assert len(states) == 3 and states.size_bytes == 30
    assert states.best([7, 8])[0] is None
    assert states.best([1, 2])[1] == 2
    states.put(saved((11,), size=31))  # bigger than the whole budget: not kept
    assert len(states) == 3



def feed(pieces: list[str], stop: tuple[str, ...]) -> tuple[list[str], StopText]:
    text = StopText(stop)
    deltas = []
    for piece in pieces:
        deltas.append(text.feed(piece))
        if text.hit:
            break
    else:
        deltas.append(text.flush())
    return [d for d in deltas if d], text


def test_a_stop_string_split_across_pieces_is_never_emitted():
    deltas, text = feed(list("Sure thing!\nUser: hi"), stop=("\nUser:",))

    assert "".join(deltas) == "Sure thing!"
    assert text.hit


def test_a_held_back_partial_stop_string_is_flushed_at_the_end():
    deltas, text = feed(list("See you\nUs"), stop=("\nUser:",))

    assert "".join(deltas) == "See you\nUs"
    assert deltas[-1] == "\nUs"  # held back until the end showed it was not a stop
    assert not text.hit


# --- a missing or broken model file is a clear BackendUnavailable -----------------


async def test_missing_model_file_is_unavailable(settings, tmp_path):
    settings.EMBEDDED_LLM_GGUF = str(tmp_path / "nope.gguf")

    with pytest.raises(BackendUnavailable, match=r"nope\.gguf is not a file"):
        await LlamaCppBackend().healthcheck()
    with pytest.raises(BackendUnavailable, match=r"nope\.gguf is not a file"):
        await anext(LlamaCppBackend().stream(TURNS, params=GREEDY))


async def test_broken_model_file_is_unavailable_and_reported_by_healthcheck(settings, tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"this is not a GGUF file")
    settings.EMBEDDED_LLM_GGUF = str(broken)
    backend = LlamaCppBackend()

    with pytest.raises(BackendUnavailable, match="could not load the embedded LLM"):
        await anext(backend.stream(TURNS, params=GREEDY))
    with pytest.raises(BackendUnavailable, match=r"broken\.gguf failed to load"):
        await backend.healthcheck()


def test_the_registry_picks_llama_cpp_for_embedded(settings):
    from companion.llm.registry import get_backend, set_backend

    settings.LLM_BACKEND = "embedded"
    set_backend(None)  # the autouse scripted backend fixture puts it back

    assert type(get_backend()) is LlamaCppBackend
