"""The per-(user, persona) memory index that ``retrieval`` ranks over, and its cache.

Per pair the process keeps a ``PairIndex``: id array, normalised embedding matrix,
BM25 model, dates, importances, layer and source turn of every item. It is rebuilt
when the pair's *version* changes; the version lives in Django's cache (LocMem on
the embedded default, Redis in production, so every process sees a bump) and is
bumped by the Memory post_save/post_delete receivers in ``receivers.py`` and by
bulk writes (``pair_invalidate``).

The lexical side is Okapi BM25 with Lucene's idf, computed by ``bm25s`` (method
"lucene", k1 1.5, b 0.75) over lower-cased, lightly stemmed word tokens (names
kept) plus each item's month and year ("may", "2023"); it scores every document
at index time into a sparse term → document matrix, so a query costs one slice
per query term. The dense product runs with one BLAS thread (threadpoolctl,
around the call only): at 10,000 x 384 a second OpenBLAS thread saves ~0.2 ms
when a core is free and costs 7-8 ms at p95 when the cores are busy. Above
IVF_MIN_ROWS items the index also carries IVF clusters (``ivf_build``) so the
dense stage can probe the nearest ones instead of scanning every row.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import bm25s
import numpy as np
from cachetools import LRUCache
from django.core.cache import cache
from threadpoolctl import ThreadpoolController

from companion.memory import embeddings
from companion.memory.dates import date_tokens
from companion.memory.models import Memory

# Above this many items the dense stage scans only the clusters nearest the question (an IVF index
# built with the pair's index: sqrt(n) k-means centroids, the closest 1/12 of them probed) instead
# of every row: at 100,000 x 384 the full float32 scan is memory-bound (15 ms on an idle core, 50-70
# ms when the cores are shared); items found by words are scored exactly whatever their cluster.
IVF_MIN_ROWS = 20_000
IVF_ITERATIONS = 6
MAX_CACHED_PAIRS = 64
LAYER_CODES = {"episodic": 0, "semantic": 1, "session": 2}
LAYER_NAMES = {v: k for k, v in LAYER_CODES.items()}
WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    "a an and are as at be been but by can could do does did for from had has have how i in is it its me my of on "
    "or our so that the their them they this to us was we were what when where which who whom why will with would "
    "you your user about just also really very there then than too into out up some any all been being am "
    "shares image".split()
)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix strip ("paintings", "painted", "painting" → "paint"); names stay as they are."""
    if len(word) <= 4 or word.isdigit():
        return word
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "es" and not word.endswith(("ches", "shes", "xes", "sses", "zes")):
                continue
            if suffix == "s" and word.endswith("ss"):
                return word
            base = word[: -len(suffix)] + repl
            if suffix in ("ing", "ed") and len(base) > 3 and base[-1] == base[-2] and base[-1] not in "ls":
                base = base[:-1]  # "running" → "run"
            return base
    return word


BM25_K1 = 1.5
BM25_B = 0.75
DENSE_BLAS_THREADS = 1
_blas: Any = None
_blas_lock = threading.Lock()


def blas_controller() -> Any:
    """numpy's BLAS libraries, found once per process (introspection costs milliseconds)."""
    global _blas
    if _blas is None:
        with _blas_lock:
            if _blas is None:
                _blas = ThreadpoolController().select(user_api="blas")
    return _blas


def dense_scores(matrix: np.ndarray, query_vec: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row with the query (both normalised), clipped to 0..1."""
    with blas_controller().limit(limits=DENSE_BLAS_THREADS):
        dense = matrix @ np.asarray(query_vec, dtype=np.float32)
    return np.clip(dense, 0.0, 1.0, out=dense)


def bm25_build(corpus: list[list[str]]) -> bm25s.BM25:
    """A Lucene-idf BM25 over tokenised documents (an empty one counts as one token)."""
    model = bm25s.BM25(method="lucene", k1=BM25_K1, b=BM25_B)
    model.index([tokens or ["_"] for tokens in corpus], show_progress=False)
    return model


def bm25_scores(model: bm25s.BM25, tokens: list[str]) -> np.ndarray:
    """Raw BM25 score of every document for ``tokens`` (repeats count again, unknown words add 0)."""
    ids = model.get_tokens_ids(tokens)
    if not ids:
        return np.zeros(int(model.scores["num_docs"]), dtype=np.float32)
    return model.get_scores_from_ids(ids)


# A few verbs people use for the same speech act, one token for the lexical side.
SYNONYMS = {"suggest": "recommend", "advis": "recommend", "advice": "recommend", "vow": "promise",
            "swore": "promise", "swear": "promise"}


def tokenize(text: str) -> list[str]:
    out = []
    for t in WORD.findall(text.lower().replace("'s ", " ")):
        if t not in _STOPWORDS:
            t = stem(t)
            out.append(SYNONYMS.get(t, t))
    return out


@dataclass
class PairIndex:
    version: int
    ids: np.ndarray  # (n,) int64
    matrix: np.ndarray  # (n, DIM) float32
    created: np.ndarray  # (n,) float64 epoch seconds (session items: their first turn)
    importance: np.ndarray  # (n,) float32
    bm25: bm25s.BM25 | None
    layers: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))  # LAYER_CODES
    anchors: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # source turn id, or -item id
    ended: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))  # session items: last turn
    speakers: frozenset[str] = frozenset()
    user_name: str = ""  # what the user is called in this pair's turns (for "my …" in a question)
    persona_name: str = ""
    texts: list[str] = field(default_factory=list)  # for the second hop (names found in the first results)
    speaker_codes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))  # into speaker_list
    speaker_list: list[str] = field(default_factory=list)
    # How often the same words were said in the pair's turns (1 for facts and sessions): a stock line
    # ("I'm glad you told me.", said 25 times) tells nothing about any one moment (see retrieval).
    repeats: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    centroids: np.ndarray | None = None  # IVF (n >= IVF_MIN_ROWS): (c, DIM) normalised centroids
    members: list[np.ndarray] = field(default_factory=list)  # rows of each centroid's cluster
    user_id: int = 0  # the pair (the pgvector dense stage queries by it)
    persona_id: int = 0

    @property
    def size(self) -> int:
        return int(self.ids.shape[0])

    @property
    def latest(self) -> float:
        """The newest item's time: "now" for recency, and what "last week" is counted from."""
        return float(self.ended.max()) if self.size else 0.0


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


_indexes: LRUCache[tuple[int, int], PairIndex] = LRUCache(maxsize=MAX_CACHED_PAIRS)  # guarded by _indexes_lock
# Every speaker name an index of this process has seen: the warm-up (which knows no pair) and search
# turn the same names into the first person, so they embed the same text.
known_speakers: set[str] = set()
_indexes_lock = threading.Lock()


def ivf_build(matrix: np.ndarray, *, seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """Spherical k-means (sqrt(n) centroids, a few iterations on a sample), then every row's cluster."""
    n = matrix.shape[0]
    c = max(8, int(np.sqrt(n)))
    rng = np.random.default_rng(seed)
    sample = matrix[rng.choice(n, size=min(n, 20 * c), replace=False)]
    centroids = sample[rng.choice(sample.shape[0], size=c, replace=False)].copy()
    for _ in range(IVF_ITERATIONS):
        labels = np.argmax(sample @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, labels, sample)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centroids = np.where(norms > 0, sums / np.maximum(norms, 1e-9), centroids).astype(np.float32)
    labels = np.concatenate([np.argmax(matrix[i:i + 20_000] @ centroids.T, axis=1) for i in range(0, n, 20_000)])
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(c + 1))
    return centroids, [order[bounds[i]:bounds[i + 1]] for i in range(c)]


def ivf_probe(index: PairIndex, vecs: list[np.ndarray]) -> np.ndarray:
    """Rows of the clusters nearest any of the query vectors (sorted, unique)."""
    assert index.centroids is not None
    nprobe = max(8, len(index.members) // 12)
    sims = index.centroids @ np.stack(vecs).astype(np.float32).T  # (c, parts)
    nearest = np.unique(np.argpartition(-sims, nprobe - 1, axis=0)[:nprobe].ravel())
    return np.sort(np.concatenate([index.members[i] for i in nearest]))


def _build(user_id: int, persona_id: int, version: int) -> PairIndex:
    rows = list(
        Memory.objects.filter(user_id=user_id, persona_id=persona_id)
        .order_by("pk")
        .values_list("pk", "embedding", "created_at", "importance", "text", "layer", "message_id", "ended_at",
                     "speaker")
    )
    said_by: dict[str, Counter] = {"user": Counter(), "persona": Counter()}
    for role, speaker in (Memory.objects.filter(user_id=user_id, persona_id=persona_id, layer="episodic")
                          .exclude(speaker="").values_list("message__role", "speaker")[:5000]):
        if role in said_by:
            said_by[role][speaker] += 1
    n = len(rows)
    matrix = np.zeros((n, embeddings.DIM), dtype=np.float32)
    for i, row in enumerate(rows):
        vec = np.frombuffer(bytes(row[1]), dtype="<f4") if row[1] is not None else None
        if vec is not None and vec.shape[0] == embeddings.DIM:
            matrix[i] = vec
        # else: a vector from another model, or none yet (an import's turns until indexing.vectors_fill):
        # the row stays zero and ranks lexically only
    created = np.array([r[2].timestamp() for r in rows], dtype=np.float64)
    speaker_list = sorted({r[8] for r in rows if r[8]})
    code_of = {name: i for i, name in enumerate(speaker_list)}
    known_speakers.update(name for name in speaker_list if len(name) > 1)

    @functools.cache
    def month_year(hour: int) -> tuple[str, ...]:  # one time-zone conversion per hour, not per item
        return tuple(date_tokens(datetime.fromtimestamp(hour * 3600, tz=UTC)))

    corpus = []
    for r in rows:
        tokens = tokenize(r[4]) + list(month_year(int(r[2].timestamp() // 3600)))
        if r[7] is not None:
            tokens += list(month_year(int(r[7].timestamp() // 3600)))
        corpus.append(tokens)
    return PairIndex(
        version=version,
        ids=np.array([r[0] for r in rows], dtype=np.int64),
        matrix=matrix,
        created=created,
        importance=np.array([r[3] for r in rows], dtype=np.float32),
        bm25=bm25_build(corpus) if n else None,
        layers=np.array([LAYER_CODES.get(r[5], 1) for r in rows], dtype=np.int8),
        anchors=np.array([r[6] if (r[6] is not None and r[5] != "session") else -r[0] for r in rows],
                         dtype=np.int64),
        ended=np.array([r[7].timestamp() if r[7] is not None else c for r, c in zip(rows, created, strict=True)],
                       dtype=np.float64),
        speakers=frozenset(r[8] for r in rows if r[8]),
        user_name=said_by["user"].most_common(1)[0][0] if said_by["user"] else "",
        persona_name=said_by["persona"].most_common(1)[0][0] if said_by["persona"] else "",
        texts=[r[4] for r in rows],
        repeats=_repeats(rows),
        speaker_codes=np.array([code_of.get(r[8], -1) for r in rows], dtype=np.int32),
        speaker_list=speaker_list,
        user_id=user_id,
        persona_id=persona_id,
        **(dict(zip(("centroids", "members"), ivf_build(matrix), strict=True)) if n >= IVF_MIN_ROWS else {}),
    )


def _repeats(rows: list[tuple]) -> np.ndarray:
    """Per row: how many of the pair's turns said the same words (episodic rows; others 1). The
    words are the turn's own, after the speaker and any quoted question ("Mira (to Ada's "…"): …")."""
    said = [(r[4].split(": ", 1)[-1].strip().lower() if r[5] == "episodic" else None) for r in rows]
    counts = Counter(x for x in said if x)
    return np.array([counts[x] if x else 1 for x in said], dtype=np.float32)


def pair_index(user_id: int, persona_id: int, *, allow_stale: bool = False) -> PairIndex:
    """The pair's index, rebuilt when its version moved (``allow_stale``: any cached one will do)."""
    version = pair_version(user_id, persona_id)
    key = (user_id, persona_id)
    with _indexes_lock:
        index = _indexes.get(key)  # a hit counts as recent use
        if index is not None and (index.version == version or allow_stale):
            return index
    index = _build(user_id, persona_id, version)
    with _indexes_lock:
        _indexes[key] = index  # the least recently used pair goes past MAX_CACHED_PAIRS
    return index


def pair_index_cached(user_id: int, persona_id: int) -> bool:
    """Does this process hold an index of the pair, of any version (what ``allow_stale`` returns)?"""
    with _indexes_lock:
        return (user_id, persona_id) in _indexes


def clear_cache() -> None:
    with _indexes_lock:
        _indexes.clear()
