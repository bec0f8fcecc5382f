"""Hybrid memory ranking over the three layers: dense + BM25 + recency + importance (+ time), in numpy.

(Just over 400 lines: one job, ranking; the index it ranks over is recall_index.py.)

Ranks over the pair's index (``recall_index.py``: the items, their vectors and
BM25 model, kept per process and rebuilt when the pair's version moves).

Scoring (all parts in 0..1, returned with each result so the ranking can be
explained):

    score = (0.55·dense + 0.25·bm25)·novelty + 0.05·recency + 0.05·importance [+ 0.15·time]

* dense: cosine similarity of MiniLM embeddings, clipped at 0;
* bm25: Okapi BM25 with Lucene's idf, log(1 + (N - n + 0.5) / (n + 0.5)),
  over lower-cased, lightly stemmed word tokens (names kept), plus each
  item's month and year ("may", "2023"), divided by the best BM25 score
  among the candidates (so 1.0 = best lexical match). Lucene's idf is
  always positive, so in a pair's first few memories an exact word match
  still counts;
* recency: exp(-age·ln2 / 30 days), the age measured from the pair's
  *latest* item (the conversation's latest message), not from today: an
  old imported chat keeps its own sense of "recent";
* importance: what the extractor (or the user) set;
* novelty: 1, less for a turn whose words were said more than twice in the pair
  (a stock line: ``_novelty``);
* time: only when the question names a time ("last week", "in May",
  "two days before the trip", see ``query.py``): 1 inside the window,
  decaying with the distance outside it.

A question that names two people or joins two questions is split
(``query.plan``); every part is ranked (one matrix product for all parts)
and an item keeps its best score; each sub-question's own best items are
kept in the top k. Items are collapsed by source turn (the episodic item
of a turn and the facts read from it are one result: the best of them), so
k results are k different turns or sessions.

Candidates are the dense top-N per part (``argpartition``; above
IVF_MIN_ROWS only in the probed clusters; with MEMORY_DENSE_BACKEND pgvector's
nearest, ``dense_pgvector``) plus every item with a lexical hit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.utils import timezone

from companion.memory import dense_pgvector, embeddings
from companion.memory.hops import second_hops, shared_pair
from companion.memory.query import plan as query_plan
from companion.memory.query import window_around
from companion.memory.recall_index import (
    DENSE_BLAS_THREADS,
    LAYER_CODES,
    LAYER_NAMES,
    PairIndex,
    blas_controller,
    bm25_scores,
    dense_scores,
    ivf_probe,
    known_speakers,
    pair_index,
    tokenize,
)
from companion.memory.semantic import Context, rewrite

WEIGHTS = {"dense": 0.55, "bm25": 0.25, "recency": 0.05, "importance": 0.05, "time": 0.15, "speaker": 0.12}
HALF_LIFE_DAYS = 30.0
DENSE_CANDIDATES = 200
LEXICAL_CANDIDATES = 200


@dataclass(frozen=True)
class Scored:
    memory_id: int
    score: float
    parts: dict[str, float]
    layer: str = "semantic"


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
    novelty = _novelty(index, cand)
    score = (
        (WEIGHTS["dense"] * d + WEIGHTS["bm25"] * bm25) * novelty + WEIGHTS["recency"] * recency
        + WEIGHTS["importance"] * importance
    )
    parts = {"dense": d, "bm25": bm25, "recency": recency, "importance": importance}
    if novelty.min(initial=1.0) < 1.0:
        parts["novelty"] = novelty
    if window is not None:
        time_part = _time_scores(index, cand, window)
        score = score + WEIGHTS["time"] * time_part
        parts["time"] = time_part
    if focus is not None and focus >= 0 and index.speaker_codes.size:
        said = (index.speaker_codes[cand] == focus).astype(np.float64)
        score = score + WEIGHTS["speaker"] * said
        parts["speaker"] = said
    return cand, score, parts


REPEAT_FREE = 2  # a line said this often is still news (a fact said twice matters)


def _novelty(index: PairIndex, cand: np.ndarray) -> np.ndarray:
    """1 for what was said at most REPEAT_FREE times, less for a stock line said over and over
    (said 10 times: 0.55, 25 times: 0.44): its words match a question as well as the one turn that
    answers it ("I'm glad you told me." for "What was that book you told me to read?")."""
    if not index.repeats.size:
        return np.ones(cand.shape[0], dtype=np.float64)
    r = np.maximum(index.repeats[cand].astype(np.float64), REPEAT_FREE)
    return 1.0 / (1.0 + 0.5 * np.log(r / REPEAT_FREE))


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
    names = known_speakers if names is None else names
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
    # Whose dense scores are computed: pgvector's nearest (MEMORY_DENSE_BACKEND), the IVF probe, or all.
    rows = dense_pgvector.candidate_rows(index, vecs, n=max(DENSE_CANDIDATES, k * 4), layers=layers) \
        if vecs and len(vecs) == n_split else None
    if rows is None and index.centroids is not None and len(vecs) == n_split:
        rows = ivf_probe(index, vecs)
    if rows is not None:
        probed = np.zeros(index.size, dtype=bool)
        probed[rows] = True
        dense_all = np.zeros((index.size, n_split), dtype=np.float32)
        with blas_controller().limit(limits=DENSE_BLAS_THREADS):
            dense_all[rows] = index.matrix[rows] @ np.stack(vecs).astype(np.float32).T
        np.clip(dense_all, 0.0, 1.0, out=dense_all)
    elif len(vecs) == n_split and n_split > 1:
        with blas_controller().limit(limits=DENSE_BLAS_THREADS):
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
                best[row] = (float(score[i]), {name: float(values[i]) for name, values in parts.items()
                                               if name != "novelty" or values[i] < 1.0})  # shown when it cut

    for j, (text, vec) in enumerate(queries):
        score_part(text, vec, j if dense_all is not None and j < dense_all.shape[1] else 0,
                   focus_of(index, text) if j else main_focus, set())
    # The whole question's own best result is kept too: at a small k a sub-question or a second hop
    # could otherwise take the only slot from the answer itself.
    quotas = [1] + [max(1, k // (2 * max(1, n_split - 1)))] * (n_split - 1)
    chosen = _merge(index, best, per_part, quotas, k, collapse)
    if hop:
        hops = second_hops(index, chosen, query=query)
        for name, anchor in hops:
            score_part(name, query_vec, 0, main_focus, {anchor})
            quotas.append(min(2, max(1, k // 4)))
        shared = shared_pair(index, per_part[:n_split],
                             [main_focus, *(focus_of(index, text) for text, _ in queries[1:])])
        for row in shared:  # each kept in the top k like a part's own best
            per_part.append([row])
            quotas.append(1)
        if hops or shared:
            chosen = _merge(index, best, per_part, quotas, k, collapse)
            if explain is not None:
                explain["hops"] = [name for name, _ in hops]
                explain["shared"] = [index.texts[r] for r in shared]
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
    the_plan = query_plan(query, reference=timezone.now())
    for text in the_plan.parts:
        if text.strip():
            embeddings.embed_one(first_person(text))
    if the_plan.anchor:
        embeddings.embed_one(the_plan.anchor)


def personal_query(query: str, index: PairIndex) -> str:
    """The user asks in the first person: "my dog" is the user's (by name), "you" the persona."""
    if not index.user_name or not re.search(r"\b(i|me|my|mine|i'm|i've|you|your|you're)\b", query, re.I):
        return query
    return rewrite(query, Context(speaker=index.user_name, addressee=index.persona_name or "you"))


def search(*, user_id: int, persona_id: int, query: str, k: int = 8, now: datetime | None = None,
           layers: list[str] | None = None, collapse: bool = True, explain: dict | None = None,
           split: bool = True, cached_vectors_only: bool = False) -> list[Scored]:
    """Plan the question (``query.plan``), embed its parts in one batch, rank across layers.

    ``cached_vectors_only``: take the question's vectors only from what ``query_warm`` left in the
    cache, never running the encoder (the prompt build runs on the shared DB thread); a part whose
    warm-up did not finish in time is ranked by its words alone.
    """

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
    vector_of = embeddings.embed_cached if cached_vectors_only else embeddings.embed_one
    vecs = [vector_of(first_person(t)) for t in texts]
    named = personal_query(texts[0], index) if texts else ""
    if named and named != texts[0]:
        texts[0] = f"{texts[0]} {named}"
    window = the_plan.window if the_plan else None
    if the_plan and the_plan.anchor:
        # "before/after X": X's own date places the window.
        anchor_vec = vector_of(the_plan.anchor)
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
