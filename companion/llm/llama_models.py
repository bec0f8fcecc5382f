"""The embedded GGUF on llama.cpp: loaded once per process and file, with its saved chat states.

``load_model`` loads under a lock, so a background warm-up (``load_in_background``)
and a first request cannot load it twice; the packaged Q4_1 file is loaded as a
Q8_0 copy (model_files.requantized). ``LoadedLlama`` is the loaded model with its
lock, its JSON grammars and ``PrefixStates``: llama.cpp keeps the KV of the
previous evaluation only, so after each chat reply the state is copied into a
small LRU (EMBEDDED_LLM_PREFIX_CACHE_MB) and restored when a later prompt shares
a longer prefix with it than with what is loaded. Generation is ``llamacpp``.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from companion.llm.base import BackendError, BackendUnavailable, ChatTurn, SchemaT
from companion.llm.model_files import is_packaged, requantized
from companion.llm.scheduling import PriorityLock
from companion.llm.structured import grammar_friendly_schema

log = logging.getLogger("companion.llm.llamacpp")

# llama-cpp-python 0.3.36's JSON grammar lets a string hold raw control characters (a newline
# mid-string: invalid JSON, seen from SmolLM2); JSON forbids U+0000-U+001F unescaped.
_STRING_CHAR = re.compile(r'^char ::= \[\^"\\\\\]', re.MULTILINE)
_JSON_STRING_CHAR = r'char ::= [^"\\\x7F\x00-\x1F]'


# --- loading (once per process and file) -------------------------------------


@dataclass
class _SavedState:
    tokens: tuple[int, ...]
    data: ctypes.Array  # llama_state_get_data's bytes (KV cells in use, last logits)
    size: int


class PrefixStates:
    """The few most recent chat states, newest last, within a byte budget.

    Why not llama-cpp-python's LlamaRAMCache: its ``save_state`` also copies a
    logits buffer of n_batch x vocab floats (100 MB for SmolLM2) per save. Why not cachetools'
    LRUCache: the lookup is a scan for the longest shared prefix, and every read of an LRUCache
    counts as a use, so scanning it would reorder all entries.
    """

    def __init__(self, capacity_bytes: int) -> None:
        self.capacity_bytes = capacity_bytes
        self._states: OrderedDict[tuple[int, ...], _SavedState] = OrderedDict()

    @property
    def size_bytes(self) -> int:
        return sum(ctypes.sizeof(s.data) for s in self._states.values())

    def __len__(self) -> int:
        return len(self._states)

    def best(self, tokens: Sequence[int]) -> tuple[_SavedState | None, int]:
        """The state sharing the longest prefix with ``tokens``, and that prefix's length."""
        best, best_len = None, 0
        for state in self._states.values():
            n = _common_prefix(state.tokens, tokens)
            if n > best_len:
                best, best_len = state, n
        if best is not None:
            self._states.move_to_end(best.tokens)
        return best, best_len

    def put(self, state: _SavedState) -> None:
        if ctypes.sizeof(state.data) > self.capacity_bytes:
            return
        # A state whose tokens extend an older one replaces it (the same chat, one turn later).
        for key in [k for k in self._states if state.tokens[: len(k)] == k]:
            del self._states[key]
        self._states[state.tokens] = state
        while self.size_bytes > self.capacity_bytes:
            self._states.popitem(last=False)


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class LoadedLlama:
    """One GGUF on llama.cpp, its chat template and the lock generations hold."""

    def __init__(self, path: Path, *, n_ctx: int, n_threads: int, prefix_cache_bytes: int) -> None:
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.path = path
        started = time.perf_counter()
        try:
            self.llama = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                # Flash attention: a 1,500-token prompt evaluated in 16.5 s instead of 25.9 s here.
                flash_attn=True,
                verbose=False,
            )
        except ValueError as exc:  # llama-cpp-python's "Failed to load model from file"
            raise BackendUnavailable(f"could not load the embedded LLM {path}: {exc}") from exc
        self.load_s = time.perf_counter() - started
        self.n_ctx = self.llama.n_ctx()
        self.n_threads = n_threads
        template = self.llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise BackendUnavailable(
                f"{path.name} has no chat template (tokenizer.chat_template): "
                "the embedded backend needs an instruction-tuned chat GGUF"
            )
        model = self.llama._model
        eos, bos = self.llama.token_eos(), self.llama.token_bos()
        self.formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=model.token_get_text(eos) if eos != -1 else "",
            bos_token=model.token_get_text(bos) if bos != -1 else "",
        )
        self._vocab = model.vocab
        self._is_eog = llama_cpp.llama_vocab_is_eog
        self._lib = llama_cpp
        # Held by the generation thread for a whole generation (model state is not shareable).
        self.generate_lock = PriorityLock()  # replies before memory work (see scheduling)
        self.prefix_states = PrefixStates(prefix_cache_bytes) if prefix_cache_bytes > 0 else None
        self._grammars: dict[str, Any] = {}
        self._grammars_lock = threading.Lock()
        log.info("embedded LLM %s loaded in %.2f s (llama.cpp, %d threads)", path.name, self.load_s, n_threads)

    # Tokenizing only reads the vocabulary: safe from any thread, also while another generates.
    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def prompt_tokens(self, turns: Sequence[ChatTurn]) -> list[int]:
        messages = [{"role": t.role, "content": t.content} for t in turns]
        prompt = self.formatter(messages=messages).prompt
        # The template writes BOS itself where the model wants one; special=True parses its markers.
        return self.llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)

    def grammar_for(self, schema: type[SchemaT]) -> Any:
        from llama_cpp import LlamaGrammar
        from llama_cpp.llama_grammar import json_schema_to_gbnf

        key = json.dumps(grammar_friendly_schema(schema), sort_keys=True)
        with self._grammars_lock:
            grammar = self._grammars.get(key)
            if grammar is None:
                gbnf = _STRING_CHAR.sub(lambda _: _JSON_STRING_CHAR, json_schema_to_gbnf(key))
                grammar = self._grammars[key] = LlamaGrammar.from_string(gbnf, verbose=False)
            return grammar

    # --- model state (generation thread, under generate_lock) -------------------

    def save_state(self) -> _SavedState:
        ctx = self.llama.ctx
        capacity = self._lib.llama_state_get_size(ctx)
        data = (ctypes.c_uint8 * capacity)()
        size = self._lib.llama_state_get_data(ctx, data, capacity)
        if size < capacity:  # keep only what was written
            data = (ctypes.c_uint8 * size).from_buffer_copy(data, 0) if size else data
        return _SavedState(tokens=tuple(self.llama._input_ids.tolist()), data=data, size=size)

    def restore_state(self, state: _SavedState) -> None:
        # Llama.load_state would also need the logits buffer we did not save; the KV and the
        # token list are what generate()'s prefix reuse reads (pinned llama-cpp-python 0.3.36).
        if self._lib.llama_state_set_data(self.llama.ctx, state.data, state.size) != state.size:
            raise BackendError("could not restore a saved llama.cpp state")
        n = len(state.tokens)
        self.llama.input_ids[:n] = state.tokens
        self.llama.n_tokens = n
        self.llama._requires_eval = True

    def cached_prefix(self, tokens: Sequence[int]) -> int:
        return _common_prefix(self.llama._input_ids.tolist(), tokens)


_models: dict[Path, LoadedLlama] = {}
_load_errors: dict[Path, BaseException] = {}
_load_lock = threading.Lock()
_loading: set[Path] = set()


@atexit.register
def _drop_models() -> None:
    # Let llama.cpp free its memory while the interpreter still works: its __del__ during
    # interpreter teardown prints "Exception ignored ... NoneType object is not callable".
    _models.clear()


def load_model(path: Path) -> LoadedLlama:
    """The process-wide model for ``path``, loaded on first use; idempotent and thread-safe."""
    loaded = _models.get(path)
    if loaded is not None:
        return loaded
    with _load_lock:
        loaded = _models.get(path)
        if loaded is None:
            try:
                loaded = LoadedLlama(
                    _model_file(path),
                    n_ctx=settings.EMBEDDED_LLM_CONTEXT,
                    n_threads=settings.EMBEDDED_LLM_THREADS,
                    prefix_cache_bytes=settings.EMBEDDED_LLM_PREFIX_CACHE_MB * 2**20,
                )
            except BackendUnavailable as exc:
                _load_errors[path] = exc
                raise
            except Exception as exc:
                _load_errors[path] = exc
                raise BackendUnavailable(f"could not load the embedded LLM {path}: {exc}") from exc
            _load_errors.pop(path, None)
            _models[path] = loaded
        return loaded


def _model_file(path: Path) -> Path:
    """The file to load for ``path``: the packaged GGUF re-quantized when configured (see model_files)."""
    ftype = settings.EMBEDDED_LLM_REQUANTIZE
    if not ftype or not is_packaged(path):
        return path
    try:
        return requantized(path, ftype)
    except Exception:  # the original file still works, only prompts evaluate slower
        log.exception("could not re-quantize %s to %s; loading it as it is", path.name, ftype)
        return path


def load_in_background(path: Path) -> None:
    """Start loading ``path`` in a thread (a no-op when it is loaded or already loading)."""
    with _load_lock:
        if path in _models or path in _loading:
            return
        _loading.add(path)

    def load() -> None:
        try:
            load_model(path)
        except BackendUnavailable:
            log.exception("embedded LLM failed to load")
        finally:
            with _load_lock:
                _loading.discard(path)

    threading.Thread(target=load, name="embedded-llm-load", daemon=True).start()


# --- one generation -----------------------------------------------------------


def loaded_model(path: Path) -> LoadedLlama | None:
    """The model for ``path`` if this process has loaded it (never loads)."""
    return _models.get(path)


def load_error(path: Path) -> BaseException | None:
    """Why the last load of ``path`` failed, or None."""
    return _load_errors.get(path)
