"""Hybrid memory ranking: dense + BM25 + recency + importance, searched in numpy.

Per (user, persona) the process keeps an index (id array, normalised
embedding matrix, BM25 model, dates, importances). It is rebuilt when the
pair's *version* changes; the version lives in Django's cache (LocMem on the
embedded default, Redis in production, so every process sees a bump) and is
bumped by the Memory post_save/post_delete receivers in ``receivers.py``.

Scoring (all parts in 0..1, returned with each result so the ranking can be
explained):

    score = 0.55·dense + 0.25·bm25 + 0.10·recency + 0.10·importance

* dense: cosine similarity of MiniLM embeddings, clipped at 0;
* bm25: rank_bm25's Okapi BM25 (with Lucene's idf) over lower-cased word tokens, divided by the
  best BM25 score among the candidates (so 1.0 = best lexical match);
* recency: exp(-age·ln2 / 30 days) (a 30-day half-life);
* importance: what the extractor (or the user) set.

BM25 is only computed for candidates (the dense top-N plus every memory that
shares a word with the query, from an inverted index): rank_bm25 scores in a
Python loop per document, so scoring all 100,000 memories would dominate.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from django.core.cache import cache
from django.utils import timezone
from rank_bm25 import BM25Okapi

from companion.memory import embeddings
from companion.memory.models import Memory

WEIGHTS = {"dense": 0.55, "bm25": 0.25, "recency": 0.10, "importance": 0.10}
HALF_LIFE_DAYS = 30.0
DENSE_CANDIDATES = 200
MAX_CACHED_PAIRS = 64
_TOKEN = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    "a an and are as at be but by do does did for from has have how i in is it me my of on or so that the their "
    "them they this to was what when where which who why will with you your user".split()
)


class LuceneBM25(BM25Okapi):
    """Okapi BM25 with Lucene's idf, log(1 + (N - n + 0.5) / (n + 0.5)).

    rank_bm25's classic idf is zero or negative for a word in half the
    corpus or more, so in a user's first few memories an exact word match
    would count for nothing; Lucene's form is always positive.
    """

    def _calc_idf(self, nd: dict[str, int]) -> None:
        for word, freq in nd.items():
            self.idf[word] = math.log(1.0 + (self.corpus_size - freq + 0.5) / (freq + 0.5))


def tokenize(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text.lower()) if t not in _STOPWORDS]


@dataclass
class PairIndex:
    version: int
    ids: np.ndarray  # (n,) int64
    matrix: np.ndarray  # (n, DIM) float32
    created: np.ndarray  # (n,) float64 epoch seconds
    importance: np.ndarray  # (n,) float32
    bm25: LuceneBM25 | None
    postings: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(self.ids.shape[0])


@dataclass(frozen=True)
class Scored:
    memory_id: int
    score: float
    parts: dict[str, float]


# --- versioning and the per-process cache -----------------------------------------------


def _version_key(user_id: int, persona_id: int) -> str:
    return f"memory:version:{user_id}:{persona_id}"


def _fresh_version() -> int:
    # Not 1: after a cache flush (or eviction) a restarted counter must never
    # match the version of an index some process still holds.
    return time.time_ns()


def pair_version(user_id: int, persona_id: int) -> int:
    key = _version_key(user_id, persona_id)
    version = cache.get(key)
    if version is None:
        cache.add(key, _fresh_version(), timeout=None)
        version = cache.get(key)
    return int(version or 0)


def pair_invalidate(user_id: int, persona_id: int) -> None:
    key = _version_key(user_id, persona_id)
    try:
        cache.incr(key)
    except ValueError:  # not set yet (or evicted)
        cache.set(key, _fresh_version(), timeout=None)


_indexes: OrderedDict[tuple[int, int], PairIndex] = OrderedDict()
_indexes_lock = threading.Lock()


def _build(user_id: int, persona_id: int, version: int) -> PairIndex:
    rows = list(
        Memory.objects.filter(user_id=user_id, persona_id=persona_id, embedding__isnull=False)
        .order_by("pk")
        .values_list("pk", "embedding", "created_at", "importance", "text")
    )
    n = len(rows)
    matrix = np.zeros((n, embeddings.DIM), dtype=np.float32)
    keep = np.ones(n, dtype=bool)
    for i, row in enumerate(rows):
        vec = np.frombuffer(bytes(row[1]), dtype="<f4")
        if vec.shape[0] == embeddings.DIM:
            matrix[i] = vec
        else:
            keep[i] = False  # a vector from another model: rank it lexically only
    corpus = [tokenize(r[4]) for r in rows]
    postings: dict[str, list[int]] = {}
    for i, tokens in enumerate(corpus):
        for t in set(tokens):
            postings.setdefault(t, []).append(i)
    return PairIndex(
        version=version,
        ids=np.array([r[0] for r in rows], dtype=np.int64),
        matrix=matrix,
        created=np.array([r[2].timestamp() for r in rows], dtype=np.float64),
        importance=np.array([r[3] for r in rows], dtype=np.float32),
        # BM25Okapi divides by the corpus size: only build it when there is one.
        bm25=LuceneBM25([c or ["_"] for c in corpus]) if n else None,
        postings={t: np.array(ix, dtype=np.int64) for t, ix in postings.items()},
    )


def pair_index(user_id: int, persona_id: int) -> PairIndex:
    version = pair_version(user_id, persona_id)
    key = (user_id, persona_id)
    with _indexes_lock:
        index = _indexes.get(key)
        if index is not None and index.version == version:
            _indexes.move_to_end(key)
            return index
    index = _build(user_id, persona_id, version)
    with _indexes_lock:
        _indexes[key] = index
        _indexes.move_to_end(key)
        while len(_indexes) > MAX_CACHED_PAIRS:
            _indexes.popitem(last=False)
    return index


def clear_cache() -> None:
    with _indexes_lock:
        _indexes.clear()


# --- ranking ---------------------------------------------------------------------------


def rank(
    index: PairIndex,
    *,
    query: str,
    query_vec: np.ndarray | None,
    k: int,
    now: datetime | None = None,
) -> list[Scored]:
    if index.size == 0 or k <= 0:
        return []
    n = index.size
    dense = np.clip(index.matrix @ query_vec, 0.0, 1.0) if query_vec is not None else np.zeros(n, np.float32)

    # Candidates: best dense matches plus every lexical hit.
    top_n = min(n, max(DENSE_CANDIDATES, k * 4))
    cand = np.argpartition(-dense, top_n - 1)[:top_n] if top_n < n else np.arange(n)
    tokens = tokenize(query)
    hits = [index.postings[t] for t in set(tokens) if t in index.postings]
    if hits:
        cand = np.union1d(cand, np.concatenate(hits))

    bm25 = np.zeros(cand.shape[0], dtype=np.float64)
    if tokens and index.bm25 is not None and hits:
        bm25 = np.asarray(index.bm25.get_batch_scores(tokens, cand.tolist()), dtype=np.float64)
        top = bm25.max()
        bm25 = np.clip(bm25 / top, 0.0, 1.0) if top > 0 else np.zeros_like(bm25)

    now_ts = (now or timezone.now()).timestamp()
    age_days = np.maximum(0.0, now_ts - index.created[cand]) / 86400.0
    recency = np.exp(-age_days * math.log(2) / HALF_LIFE_DAYS)
    importance = index.importance[cand].astype(np.float64)
    d = dense[cand].astype(np.float64)
    score = (
        WEIGHTS["dense"] * d + WEIGHTS["bm25"] * bm25 + WEIGHTS["recency"] * recency
        + WEIGHTS["importance"] * importance
    )
    order = np.argsort(-score, kind="stable")[:k]
    return [
        Scored(
            memory_id=int(index.ids[cand[i]]),
            score=round(float(score[i]), 4),
            parts={
                "dense": round(float(d[i]), 4),
                "bm25": round(float(bm25[i]), 4),
                "recency": round(float(recency[i]), 4),
                "importance": round(float(importance[i]), 4),
            },
        )
        for i in order
    ]


def search(*, user_id: int, persona_id: int, query: str, k: int = 8, now: datetime | None = None) -> list[Scored]:
    index = pair_index(user_id, persona_id)
    if index.size == 0:
        return []
    query_vec = embeddings.embed_one(query) if query.strip() else None
    return rank(index, query=query, query_vec=query_vec, k=k, now=now)


def describe_weights() -> dict[str, Any]:
    return {"weights": dict(WEIGHTS), "half_life_days": HALF_LIFE_DAYS}
