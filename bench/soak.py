"""Soak: mixed load on the production shape (2 Daphne + 2 Dramatiq workers, PostgreSQL, Redis).

Chatting clients (each waits for its reply, then thinks a moment), Evolve
requests on some replies, and reconnects to the *other* Daphne with a
``history.sync``, for ``--minutes``. Prints one JSON object: throughput,
latency percentiles, error counts, and the invariant check at the end —
every user message stored exactly once, every reply terminal, every render
job terminal.

    .venv/bin/python bench/soak.py                 # 30 minutes
    .venv/bin/python bench/soak.py --minutes 2     # CI-sized

Needs PostgreSQL on localhost (a fresh database is created and dropped) and
the redis-server binary (a private instance is started). The chat model is
the deterministic paced scripted backend, so the numbers measure the
plumbing (websockets, channel layer, database, queue, previz renders), not a
model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.topology import DEFAULT_POSTGRES_URL, Topology
from tests.support.wsclient import ChatSocket, seed_snippet

INVARIANTS = """
from django.db.models import Count
from companion.chat.models import Message
from rendering.models import RenderJob
sent = json.loads({sent!r})
users = Message.objects.filter(role="user")
stored = dict(users.values_list("client_id").annotate(n=Count("id")).values_list("client_id", "n"))
print(json.dumps({{
    "user_messages_sent": len(sent),
    "user_messages_missing": sorted(c for c in sent if c not in stored)[:20],
    "user_messages_missing_count": sum(1 for c in sent if c not in stored),
    "user_messages_duplicated": sorted(c for c, n in stored.items() if n > 1)[:20],
    "replies_by_status": dict(Message.objects.filter(role="persona", kind="text").values_list("status")
                              .annotate(n=Count("id")).values_list("status", "n")),
    "jobs_by_status": dict(RenderJob.objects.values_list("status").annotate(n=Count("id"))
                           .values_list("status", "n")),
    "clip_messages": Message.objects.filter(kind="clip").count(),
}}))
"""


def percentiles(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {"n": len(values), "p50_ms": pick(0.50), "p95_ms": pick(0.95), "p99_ms": pick(0.99),
            "max_ms": round(ordered[-1] * 1000, 1), "mean_ms": round(statistics.fmean(ordered) * 1000, 1)}


class Stats:
    def __init__(self) -> None:
        self.ack: list[float] = []  # message.send -> own message.created
        self.first_delta: list[float] = []
        self.reply: list[float] = []  # message.send -> message.done
        self.render: list[float] = []  # render.request -> render.done
        self.errors: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.sent_client_ids: list[str] = []
        self.pending_renders: dict[str, float] = {}  # job id -> requested at


async def client_loop(idx: int, user: dict, topo: Topology, stats: Stats, deadline: float, args) -> None:
    rng = random.Random(idx)
    webs = topo.web_urls
    web = idx % len(webs)
    ws: ChatSocket | None = None
    n = 0
    last_seq = 0
    while time.monotonic() < deadline:
        try:
            if ws is None:
                ws = await ChatSocket(webs[web], user["conversation_id"], user["sessionid"]).open()
                stats.counts["connects"] += 1
                if last_seq:
                    history = await ws.history(after_seq=last_seq)
                    ids = [m["id"] for m in history["messages"]]
                    if len(ids) != len(set(ids)):
                        stats.errors["history_duplicates"] += 1
                    stats.counts["history_syncs"] += 1
            n += 1
            client_id = f"soak-{idx}-{n}"
            stats.sent_client_ids.append(client_id)
            sent_at = time.monotonic()
            await ws.send({"type": "message.send", "text": f"Message {n} from client {idx}: we walk on the beach.",
                           "client_id": client_id})
            created = await ws.wait_for(lambda f, c=client_id: f["type"] == "error" or (
                f["type"] == "message.created" and f.get("client_id") == c), 30)
            if created["type"] == "error":
                stats.errors[f"send_{created['code']}"] += 1
                await asyncio.sleep(1)
                continue
            stats.ack.append(time.monotonic() - sent_at)
            last_seq = max(last_seq, created["message"]["seq"])
            reply = await ws.wait_for(lambda f: f["type"] == "message.created" and f["message"]["role"] == "persona"
                                      and f["message"]["kind"] == "text", 30)
            rid = reply["message"]["id"]
            await ws.wait_for(lambda f, r=rid: f["type"] == "message.delta" and f["message_id"] == r, 30)
            stats.first_delta.append(time.monotonic() - sent_at)
            done = await ws.wait_for(lambda f, r=rid: f["type"] == "message.done" and f["message"]["id"] == r, 60)
            stats.reply.append(time.monotonic() - sent_at)
            stats.counts[f"reply_{done['message']['status']}"] += 1
            last_seq = max(last_seq, done["message"]["seq"])
            _collect_renders(ws, stats)
            if rng.random() < args.evolve_ratio:
                await ws.send({"type": "render.request", "message_id": rid, "client_id": f"r-{client_id}"})
                queued = await ws.wait_for(lambda f: f["type"] in ("render.queued", "error"), 30)
                if queued["type"] == "error":
                    stats.errors[f"render_{queued['code']}"] += 1
                else:
                    stats.pending_renders.setdefault(queued["job_id"], time.monotonic())
                    stats.counts["renders_requested"] += 1
            if rng.random() < args.reconnect_ratio:
                _collect_renders(ws, stats)
                await ws.close()
                ws = None
                web = (web + 1) % len(webs)  # come back on the other Daphne
                stats.counts["reconnects"] += 1
            await asyncio.sleep(rng.uniform(*args.think_s))
        except (TimeoutError, ConnectionError, OSError) as exc:
            stats.errors[f"client_{type(exc).__name__}"] += 1
            if ws is not None:
                await ws.close()
            ws = None
            web = (web + 1) % len(webs)
    if ws is not None:
        _collect_renders(ws, stats)
        await ws.close()


def _collect_renders(ws: ChatSocket, stats: Stats) -> None:
    """Render outcomes seen on this socket so far (frames are kept by ChatSocket)."""
    for frame in ws.frames:
        if frame["type"] in ("render.done", "render.failed") and frame["job_id"] in stats.pending_renders:
            started = stats.pending_renders.pop(frame["job_id"])
            stats.counts[frame["type"].replace(".", "_")] += 1
            if frame["type"] == "render.done":
                stats.render.append(frame["_t"] - started)
    ws.frames.clear()


async def run(args) -> dict:
    env = {
        "SCRIPTED_TOKEN_DELAY_S": str(args.token_delay_s),
        "SCRIPTED_REPLY_WORDS": str(args.reply_words),
        "CHAT_RATE_LIMIT": "100000/m",
        "RENDER_RATE_LIMIT": "100000/m",
        "LOG_LEVEL": "WARNING",
    }
    topo = Topology(workdir=args.workdir, postgres_url=args.postgres_url, env_extra=env)
    started = time.monotonic()
    await asyncio.to_thread(topo.start)
    try:
        boot_s = time.monotonic() - started
        users = await asyncio.to_thread(topo.django, seed_snippet(count=args.clients, prefix="soak"))
        stats = Stats()
        t0 = time.monotonic()
        deadline = t0 + args.minutes * 60
        await asyncio.gather(*(client_loop(i, u, topo, stats, deadline, args) for i, u in enumerate(users)))
        elapsed = time.monotonic() - t0

        # Let queued renders finish (outcomes are checked in the database, not only on sockets).
        drain_until = time.monotonic() + args.drain_s
        snippet = "from rendering.models import RenderJob\nprint(json.dumps(RenderJob.objects.filter(" \
                  "status__in=['queued','running']).count()))"
        while time.monotonic() < drain_until and await asyncio.to_thread(topo.django, snippet):  # noqa: ASYNC110
            await asyncio.sleep(2)  # polling another process's database: no event to wait on
        invariants = await asyncio.to_thread(topo.django, INVARIANTS.format(sent=json.dumps(stats.sent_client_ids)))
        ok = (
            invariants["user_messages_missing_count"] == 0
            and not invariants["user_messages_duplicated"]
            and invariants["replies_by_status"].get("streaming", 0) == 0
            and not set(invariants["jobs_by_status"]) & {"queued", "running"}
        )
        return {
            "minutes": args.minutes,
            "clients": args.clients,
            "boot_s": round(boot_s, 1),
            "elapsed_s": round(elapsed, 1),
            "throughput": {
                "messages_per_s": round(len(stats.reply) / elapsed, 2),
                "renders_done_per_min": round(stats.counts["render_done"] / elapsed * 60, 2),
            },
            "latency": {
                "message_ack": percentiles(stats.ack),
                "first_delta": percentiles(stats.first_delta),
                "reply_done": percentiles(stats.reply),
                "render_done": percentiles(stats.render),
            },
            "counts": dict(stats.counts),
            "errors": dict(stats.errors),
            "invariants": {**invariants, "ok": ok},
        }
    finally:
        await asyncio.to_thread(topo.stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--evolve-ratio", type=float, default=0.1, help="share of replies that get a render")
    parser.add_argument("--reconnect-ratio", type=float, default=0.1, help="share of turns ending in a reconnect")
    parser.add_argument("--think-s", type=float, nargs=2, default=(0.2, 1.0), help="pause between turns")
    parser.add_argument("--token-delay-s", type=float, default=0.02, help="scripted model: seconds per delta")
    parser.add_argument("--reply-words", type=int, default=30)
    parser.add_argument("--drain-s", type=float, default=180.0, help="wait this long for queued renders")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--workdir", default=None, help="logs of the processes (default: a temp folder)")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2))
    sys.exit(0 if result["invariants"]["ok"] else 1)


if __name__ == "__main__":
    main()
