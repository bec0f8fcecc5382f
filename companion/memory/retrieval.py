"""Hybrid memory ranking over the three layers: dense + BM25 + recency + importance (+ time), in numpy.

Per (user, persona) the process keeps an index (id array, normalised
embedding matrix, BM25 model, dates, importances, layer and source turn of
every item). It is rebuilt when the pair's *version* changes; the version
lives in Django's cache (LocMem on the embedded default, Redis in
production, so every process sees a bump) and is bumped by the Memory
post_save/post_delete receivers in ``receivers.py`` and by bulk writes.

Scoring (all parts in 0..1, returned with each result so the ranking can be
explained):

    score = 0.55·dense + 0.25·bm25 + 0.05·recency + 0.05·importance [+ 0.15·time]

* dense: cosine similarity of MiniLM embeddings, clipped at 0;
* bm25: Okapi BM25 with Lucene's idf, log(1 + (N - n + 0.5) / (n + 0.5)),
  over lower-cased, lightly stemmed word tokens (names kept), plus each
  item's month and year ("may", "2023"), divided by the best BM25 score
  among the candidates (so 1.0 = best lexical match). Lucene's idf is
  always positive, so in a pair's first few memories an exact word match
  still counts. Computed by ``bm25s`` (method "lucene", k1 1.5, b 0.75),
  which scores every document at index time into a sparse term → document
  matrix, so a query costs one slice per query term;
* recency: exp(-age·ln2 / 30 days), the age measured from the pair's
  *latest* item (the conversation's latest message), not from today: an
  old imported chat keeps its own sense of "recent";
* importance: what the extractor (or the user) set;
* time: only when the question names a time ("last week", "in May",
  "two days before the trip", see ``query.py``): 1 inside the window,
  decaying with the distance outside it.

A question that names two people or joins two questions is split
(``query.plan``); every part is ranked (one matrix product for all parts)
and an item keeps its best score; each sub-question's own best items are
kept in the top k. Items are collapsed by source turn (the episodic item
of a turn and the facts read from it are one result: the best of them), so
k results are k different turns or sessions.

Candidates are the dense top-N per part (``argpartition``) plus every item
with a lexical hit. The product runs with one BLAS thread (threadpoolctl,
around the call only): at 10,000 x 384 a second OpenBLAS thread saves
~0.2 ms when a core is free and costs 7-8 ms at p95 when the cores are busy.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import bm25s
import numpy as np
from django.core.cache import cache
from django.utils import timezone
from threadpoolctl import ThreadpoolController

from companion.memory import embeddings
from companion.memory.models import Memory

WEIGHTS = {"dense": 0.55, "bm25": 0.25, "recency": 0.05, "importance": 0.05, "time": 0.15, "speaker": 0.12}
HALF_LIFE_DAYS = 30.0
DENSE_CANDIDATES = 200
LEXICAL_CANDIDATES = 200
# Above this many items the dense stage scans only the clusters nearest the question (an IVF index
# built with the pair's index: sqrt(n) k-means centroids, the closest 1/12 of them probed) instead
# of every row: at 100,000 x 384 the full float32 scan is memory-bound (15 ms on an idle core, 50-70
# ms when the cores are shared); items found by words are scored exactly whatever their cluster.
IVF_MIN_ROWS = 20_000
IVF_ITERATIONS = 6
MAX_CACHED_PAIRS = 64
LAYER_CODES = {"episodic": 0, "semantic": 1, "session": 2}
LAYER_NAMES = {v: k for k, v in LAYER_CODES.items()}
_TOKEN = re.compile(r"[a-z0-9]+")
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


def _blas_controller() -> Any:
    """numpy's BLAS libraries, found once per process (introspection costs milliseconds)."""
    global _blas
    if _blas is None:
        with _blas_lock:
            if _blas is None:
                _blas = ThreadpoolController().select(user_api="blas")
    return _blas


def dense_scores(matrix: np.ndarray, query_vec: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row with the query (both normalised), clipped to 0..1."""
    with _blas_controller().limit(limits=DENSE_BLAS_THREADS):
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
    for t in _TOKEN.findall(text.lower().replace("'s ", " ")):
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
    centroids: np.ndarray | None = None  # IVF (n >= IVF_MIN_ROWS): (c, DIM) normalised centroids
    members: list[np.ndarray] = field(default_factory=list)  # rows of each centroid's cluster

    @property
    def size(self) -> int:
        return int(self.ids.shape[0])

    @property
    def latest(self) -> float:
        """The newest item's time: "now" for recency, and what "last week" is counted from."""
        return float(self.ended.max()) if self.size else 0.0


@dataclass(frozen=True)
class Scored:
    memory_id: int
    score: float
    parts: dict[str, float]
    layer: str = "semantic"


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
# Every speaker name an index of this process has seen: the warm-up (which knows no pair) and search
# turn the same names into the first person, so they embed the same text.
_known_speakers: set[str] = set()
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


def _probe(index: PairIndex, vecs: list[np.ndarray]) -> np.ndarray:
    """Rows of the clusters nearest any of the query vectors (sorted, unique)."""
    assert index.centroids is not None
    nprobe = max(8, len(index.members) // 12)
    sims = index.centroids @ np.stack(vecs).astype(np.float32).T  # (c, parts)
    nearest = np.unique(np.argpartition(-sims, nprobe - 1, axis=0)[:nprobe].ravel())
    return np.sort(np.concatenate([index.members[i] for i in nearest]))


def _build(user_id: int, persona_id: int, version: int) -> PairIndex:
    from companion.memory.dates import date_tokens

    rows = list(
        Memory.objects.filter(user_id=user_id, persona_id=persona_id, embedding__isnull=False)
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
        vec = np.frombuffer(bytes(row[1]), dtype="<f4")
        if vec.shape[0] == embeddings.DIM:
            matrix[i] = vec
        # else: a vector from another model: the row stays zero and ranks lexically only
    created = np.array([r[2].timestamp() for r in rows], dtype=np.float64)
    speaker_list = sorted({r[8] for r in rows if r[8]})
    code_of = {name: i for i, name in enumerate(speaker_list)}
    _known_speakers.update(name for name in speaker_list if len(name) > 1)

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
        speaker_codes=np.array([code_of.get(r[8], -1) for r in rows], dtype=np.int32),
        speaker_list=speaker_list,
        **(dict(zip(("centroids", "members"), ivf_build(matrix), strict=True)) if n >= IVF_MIN_ROWS else {}),
    )


def pair_index(user_id: int, persona_id: int, *, allow_stale: bool = False) -> PairIndex:
    """The pair's index, rebuilt when its version moved (``allow_stale``: any cached one will do)."""
    version = pair_version(user_id, persona_id)
    key = (user_id, persona_id)
    with _indexes_lock:
        index = _indexes.get(key)
        if index is not None and (index.version == version or allow_stale):
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


def _time_scores(index: PairIndex, cand: np.ndarray, window: Any) -> np.ndarray:
    """1 inside the window (a session: overlapping it), decaying with the distance in days outside it."""
    start, end = window.start.timestamp(), window.end.timestamp()
    lo, hi = index.created[cand], index.ended[cand]
    gap = np.maximum(0.0, np.maximum(start - hi, lo - end)) / 86400.0
    width = max(3.0, (end - start) / 86400.0 / 2)
    return np.exp(-gap / width)


def score_candidates(index: PairIndex, *, query: str, query_vec: np.ndarray | None, k: int, now_ts: float,
                     window: Any = None, dense: np.ndarray | None = None, layers: np.ndarray | None = None,
                     focus: int | None = None, probed: np.ndarray | None = None,
                     ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(candidate rows, scores, parts) for one query; ``dense`` may be precomputed for all rows
    (with ``probed``: only for those rows, the others are scored here when they become candidates)."""
    n = index.size
    if dense is None:
        dense = dense_scores(index.matrix, query_vec) if query_vec is not None else np.zeros(n, np.float32)
    if layers is not None:
        dense = np.where(layers, dense, -1.0).astype(np.float32)
    top_n = min(n, max(DENSE_CANDIDATES, k * 4))
    cand = np.argpartition(-dense, top_n - 1)[:top_n] if top_n < n else np.arange(n)
    tokens = tokenize(query)
    lexical = bm25_scores(index.bm25, tokens) if tokens and index.bm25 is not None else None
    if lexical is not None:
        hits = np.flatnonzero(lexical > 0)
        if layers is not None and hits.size:
            hits = hits[layers[hits]]
        if hits.size > LEXICAL_CANDIDATES:  # the best lexical matches, not every item sharing a common word
            hits = hits[np.argpartition(-lexical[hits], LEXICAL_CANDIDATES - 1)[:LEXICAL_CANDIDATES]]
        if hits.size:
            cand = np.union1d(cand, hits)
    if layers is not None:
        cand = cand[layers[cand]]
    if probed is not None and query_vec is not None:
        missing = cand[~probed[cand]]
        if missing.size:  # found by words outside the probed clusters: their exact dense score
            dense = dense.copy()
            dense[missing] = np.clip(index.matrix[missing] @ np.asarray(query_vec, dtype=np.float32), 0.0, 1.0)
    if lexical is not None:
        bm25 = lexical[cand].astype(np.float64)
        top = bm25.max(initial=0.0)
        bm25 = np.clip(bm25 / top, 0.0, 1.0) if top > 0 else np.zeros_like(bm25)
    else:
        bm25 = np.zeros(cand.shape[0], dtype=np.float64)
    age_days = np.maximum(0.0, now_ts - index.ended[cand]) / 86400.0
    recency = np.exp(-age_days * math.log(2) / HALF_LIFE_DAYS)
    importance = index.importance[cand].astype(np.float64)
    d = np.clip(dense[cand].astype(np.float64), 0.0, 1.0)
    score = (
        WEIGHTS["dense"] * d + WEIGHTS["bm25"] * bm25 + WEIGHTS["recency"] * recency
        + WEIGHTS["importance"] * importance
    )
    parts = {"dense": d, "bm25": bm25, "recency": recency, "importance": importance}
    if window is not None:
        time_part = _time_scores(index, cand, window)
        score = score + WEIGHTS["time"] * time_part
        parts["time"] = time_part
    if focus is not None and focus >= 0 and index.speaker_codes.size:
        said = (index.speaker_codes[cand] == focus).astype(np.float64)
        score = score + WEIGHTS["speaker"] * said
        parts["speaker"] = said
    return cand, score, parts


def focus_of(index: PairIndex, text: str) -> int | None:
    """The speaker a question is about: the first of the pair's speakers it names ("What is Mira's
    favourite…", "What did Mira recommend to Ada" → Mira); None when it names none."""
    best: tuple[int, int] | None = None
    for code, name in enumerate(index.speaker_list):
        m = re.search(rf"\b{re.escape(name)}\b", text)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), code)
    return best[1] if best else None


_OBJECT_BEFORE = re.compile(r"\b(to|for|with|about|from|tell|told|ask|asked|visit|visited|give|gave|promise|"
                            r"promised|recommend|recommended|show|showed|send|sent|teach|taught|and|or)\s+$", re.I)


def first_person(text: str, names: set[str] | frozenset[str] | None = None) -> str:
    """What is embedded for a question: the speakers' names as the turns themselves say them — the
    first speaker it names in the first person, any other in the second ("What did Mira recommend to
    Ada?" → "What did I recommend to you?"); who said it is the speaker part's job. MiniLM weighs a
    rare name so heavily that "Ada's grandmother taught Ada" would otherwise beat "I'm a landscape
    architect" for "What is Ada's job?"."""
    names = _known_speakers if names is None else names
    found = sorted((m.start(), name) for name in names for m in [re.search(rf"\b{re.escape(name)}\b", text)] if m)
    out = text
    for n, (_, name) in enumerate(found):
        first = n == 0
        out = re.sub(rf"\b{re.escape(name)}'s\b", "my" if first else "your", out)

        def person(m: re.Match, _out: str = out, _first: bool = first) -> str:
            if not _first:
                return "you"
            return "me" if _OBJECT_BEFORE.search(_out[: m.start()]) else "I"

        out = re.sub(rf"\b{re.escape(name)}\b", person, out)
    return out


def _pick(index: PairIndex, order: np.ndarray, cand: np.ndarray, k: int, collapse: bool, taken: set[int]
          ) -> list[int]:
    """Row positions (into ``cand``) of the best k, one per source turn when collapsing."""
    out: list[int] = []
    for i in order:
        anchor = int(index.anchors[cand[i]]) if collapse else int(index.ids[cand[i]])
        if anchor in taken:
            continue
        taken.add(anchor)
        out.append(int(i))
        if len(out) >= k:
            break
    return out


def rank(
    index: PairIndex,
    *,
    query: str,
    query_vec: np.ndarray | None,
    k: int,
    now: datetime | None = None,
    window: Any = None,
    layers: list[str] | None = None,
    collapse: bool = True,
    parts_queries: list[tuple[str, np.ndarray | None]] | None = None,
    hop: bool = False,
    explain: dict | None = None,
) -> list[Scored]:
    """Top-k items for ``query`` (and its sub-questions in ``parts_queries``), best first.

    ``hop``: after the first ranking, names its best results mention that the question does not are
    ranked too (the name for the lexical side, the question's own vector), each keeping its best two
    items in the top k."""
    if index.size == 0 or k <= 0:
        return []
    now_ts = now.timestamp() if now is not None else index.latest
    mask = None
    if layers:
        codes = [LAYER_CODES[x] for x in layers if x in LAYER_CODES]
        mask = np.isin(index.layers, codes)
    queries = [(query, query_vec), *(parts_queries or [])]
    n_split = len(queries)
    vecs = [v for _, v in queries if v is not None]
    dense_all = None
    probed = None
    if index.centroids is not None and len(vecs) == n_split:
        rows = _probe(index, vecs)
        probed = np.zeros(index.size, dtype=bool)
        probed[rows] = True
        dense_all = np.zeros((index.size, n_split), dtype=np.float32)
        with _blas_controller().limit(limits=DENSE_BLAS_THREADS):
            dense_all[rows] = index.matrix[rows] @ np.stack(vecs).astype(np.float32).T
        np.clip(dense_all, 0.0, 1.0, out=dense_all)
    elif len(vecs) == n_split and n_split > 1:
        with _blas_controller().limit(limits=DENSE_BLAS_THREADS):
            dense_all = index.matrix @ np.stack(vecs).astype(np.float32).T  # (n, parts): one pass over the matrix
        np.clip(dense_all, 0.0, 1.0, out=dense_all)
    elif query_vec is not None:
        dense_all = dense_scores(index.matrix, query_vec)[:, None]
    best: dict[int, tuple[float, dict[str, float]]] = {}
    per_part: list[list[int]] = []
    main_focus = focus_of(index, query)

    def score_part(text: str, vec: np.ndarray | None, column: int, focus: int | None, exclude: set[int]) -> None:
        dense = np.ascontiguousarray(dense_all[:, column]) if dense_all is not None else None
        cand, score, parts = score_candidates(index, query=text, query_vec=vec, k=k, now_ts=now_ts, window=window,
                                              dense=dense, layers=mask, focus=focus, probed=probed)
        order = np.argsort(-score, kind="stable")
        rows = _pick(index, order, cand, k, collapse, exclude)
        per_part.append([int(cand[i]) for i in rows])
        for i in order[: max(k * 4, 50)]:
            row = int(cand[i])
            if row not in best or score[i] > best[row][0]:
                best[row] = (float(score[i]), {name: float(values[i]) for name, values in parts.items()})

    for j, (text, vec) in enumerate(queries):
        score_part(text, vec, j if dense_all is not None and j < dense_all.shape[1] else 0,
                   focus_of(index, text) if j else main_focus, set())
    quotas = [0] + [max(1, k // (2 * max(1, n_split - 1)))] * (n_split - 1)
    chosen = _merge(index, best, per_part, quotas, k, collapse)
    if hop:
        hops = second_hops(index, chosen, query=query)
        for name, anchor in hops:
            score_part(name, query_vec, 0, main_focus, {anchor})
            quotas.append(min(2, max(1, k // 4)))
        if hops:
            chosen = _merge(index, best, per_part, quotas, k, collapse)
            if explain is not None:
                explain["hops"] = [name for name, _ in hops]
    return [
        Scored(
            memory_id=int(index.ids[r]),
            score=round(best[r][0], 4),
            parts={name: round(value, 4) for name, value in best[r][1].items()},
            layer=LAYER_NAMES.get(int(index.layers[r]), "semantic"),
        )
        for r in chosen
    ]


def _merge(index: PairIndex, best: dict[int, tuple[float, dict[str, float]]], per_part: list[list[int]],
           quotas: list[int], k: int, collapse: bool) -> list[int]:
    """The top k rows by best score over all parts, one per source turn; each part keeps its first
    ``quota`` rows in (else one part can take every slot)."""
    rows_sorted = sorted(best, key=lambda r: -best[r][0])
    arr = np.array(rows_sorted, dtype=np.int64)
    chosen = [int(arr[i]) for i in _pick(index, np.arange(arr.size), arr, k, collapse, set())]
    if len(per_part) > 1:
        anchor_of = (lambda r: int(index.anchors[r])) if collapse else (lambda r: int(index.ids[r]))
        protected = {r for p, q in zip(per_part, quotas, strict=True) for r in p[:q]}
        taken = {anchor_of(c) for c in chosen}
        for own, quota in zip(per_part[1:], quotas[1:], strict=True):
            for row in own[:quota]:
                if anchor_of(row) in taken:
                    continue
                if len(chosen) >= k:
                    # Drop the lowest item that no part holds in its own quota.
                    victim = next((c for c in reversed(chosen) if c not in protected), None)
                    if victim is None:
                        break
                    chosen.remove(victim)
                    taken.discard(anchor_of(victim))
                chosen.append(row)
                taken.add(anchor_of(row))
        chosen.sort(key=lambda r: -best[r][0] if r in best else 0.0)
    return chosen


def query_warm(query: str) -> None:
    """Embed what ``search`` will embed for ``query`` (its parts, a before/after anchor) into the LRU.

    Registered as chat.prompt's warm-up: it runs in a worker thread before the prompt build, so the
    build (on Channels' shared DB thread) finds every vector cached."""
    from companion.memory.query import plan as query_plan

    the_plan = query_plan(query, reference=timezone.now())
    for text in the_plan.parts:
        if text.strip():
            embeddings.embed_one(first_person(text))
    if the_plan.anchor:
        embeddings.embed_one(the_plan.anchor)


def personal_query(query: str, index: PairIndex) -> str:
    """The user asks in the first person: "my dog" is the user's (by name), "you" the persona."""
    from companion.memory.semantic import Context, rewrite

    if not index.user_name or not re.search(r"\b(i|me|my|mine|i'm|i've|you|your|you're)\b", query, re.I):
        return query
    return rewrite(query, Context(speaker=index.user_name, addressee=index.persona_name or "you"))


def search(*, user_id: int, persona_id: int, query: str, k: int = 8, now: datetime | None = None,
           layers: list[str] | None = None, collapse: bool = True, explain: dict | None = None,
           split: bool = True) -> list[Scored]:
    """Plan the question (``query.plan``), embed its parts in one batch, rank across layers."""
    from companion.memory.query import plan as query_plan
    from companion.memory.query import window_around

    index = pair_index(user_id, persona_id)
    if index.size == 0:
        return []
    reference = now or (datetime.fromtimestamp(index.latest, tz=timezone.get_current_timezone())
                        if index.size else timezone.now())
    # Dense vectors come from the question as asked (and its parts), so ``query_warm`` (run off the DB
    # thread before a prompt build) has already embedded them; the lexical side also gets the names
    # ("my dog" → "Sam's dog", from this pair's turns).
    the_plan = query_plan(query, reference=reference, known_names=set(index.speakers)) if split and query.strip() \
        else None
    parts = the_plan.parts if the_plan else [query]
    texts = [p for p in parts if p.strip()]
    vecs = [embeddings.embed_one(first_person(t)) for t in texts]
    named = personal_query(texts[0], index) if texts else ""
    if named and named != texts[0]:
        texts[0] = f"{texts[0]} {named}"
    window = the_plan.window if the_plan else None
    if the_plan and the_plan.anchor:
        # "before/after X": X's own date places the window.
        anchor_vec = embeddings.embed_one(the_plan.anchor)
        found = rank(index, query=the_plan.anchor, query_vec=anchor_vec, k=1, now=now,
                     layers=["episodic", "semantic"])
        if found:
            row = int(np.flatnonzero(index.ids == found[0].memory_id)[0])
            when = datetime.fromtimestamp(index.created[row], tz=reference.tzinfo)
            window = window_around(when, relation=the_plan.relation, span_days=the_plan.span_days)
    if explain is not None and the_plan is not None:
        explain.update(the_plan.describe())
        if window is not None:
            explain["window"] = {"start": window.start.isoformat(), "end": window.end.isoformat(), "text": window.text}
    if not vecs:
        return rank(index, query=query, query_vec=None, k=k, now=now, window=window, layers=layers,
                    collapse=collapse)
    return rank(index, query=texts[0], query_vec=vecs[0], k=k, now=now, window=window, layers=layers,
                collapse=collapse, parts_queries=list(zip(texts[1:], vecs[1:], strict=True)), hop=split,
                explain=explain)


MAX_HOPS = 2
_HOP_NAME = re.compile(r"(?<![.!?:]\s)(?<!^)\b([A-Z][a-z]{2,20})\b")


def second_hops(index: PairIndex, rows: list[int], *, query: str) -> list[tuple[str, int]]:
    """Names the best first results mention that the question does not ("my uncle … moved to Kyoto"
    names Oskar; "Oskar started teaching" is the second hop), with the turn each came from."""
    from companion.memory.query import _CAPS_SKIP

    asked = {w.lower() for w in _TOKEN.findall(query.lower())}
    skip = {s.lower() for s in index.speakers} | asked
    found: list[tuple[str, int]] = []
    for row in rows[:3]:
        if index.layers[row] == LAYER_CODES["session"]:
            continue
        text = index.texts[row].split(": ", 1)[-1]
        anchor = int(index.anchors[row])
        for name in _HOP_NAME.findall(text):
            if name in _CAPS_SKIP or name.lower() in skip or name in {f[0] for f in found}:
                continue
            found.append((name, anchor))
    return found[:MAX_HOPS]
