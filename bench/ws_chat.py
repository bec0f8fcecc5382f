"""Websocket chat benchmark against a real Daphne process.

Part 1, relay: N authenticated websocket clients (one conversation each) held
open on one Daphne; A of them chat (K messages each, one after the other) with
a bench backend (bench/ws_backend.py) that emits T tokens per reply at R
tokens/s, each token stamped with its emit time. Reports connections held,
frames/s relayed, per-token relay latency p50/p99 (backend emit → client
receive, same clock), lost/duplicated tokens and messages, Daphne RSS/CPU.

Part 2, embedded: the packaged model (temperature 0, so both paths generate
the same tokens) streaming one reply through Daphne + websocket vs the same
model called in-process on the same prompt, in the same run.

    .venv/bin/python bench/ws_chat.py                    # defaults: ~1 minute
    .venv/bin/python bench/ws_chat.py --connections 1000 --active 200 --skip-embedded

Prints one JSON object. Everything lives in a temporary var dir (SQLite).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.topology import free_port  # noqa: E402  (the repository root is on the path now)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--connections", type=int, default=100, help="websocket connections held open")
    p.add_argument("--active", type=int, default=20, help="how many of them chat")
    p.add_argument("--messages", type=int, default=3, help="messages each active chat sends, one after another")
    p.add_argument("--token-rate", type=float, default=20.0, help="tokens/s the bench backend emits per reply")
    p.add_argument("--reply-tokens", type=int, default=40, help="tokens per bench reply")
    p.add_argument("--embedded-tokens", type=int, default=64, help="max new tokens for the embedded comparison")
    p.add_argument("--skip-embedded", action="store_true", help="only the relay part")
    p.add_argument(
        "--no-prompt-sections", action="store_true", help="relay part without memory/relationship prompt sections"
    )
    p.add_argument("--skip-relay", action="store_true", help="only the embedded comparison")
    return p.parse_args()


# --- environment, Django, fixtures ----------------------------------------------------


def bench_env(var_dir: Path, args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        COMPANION_VAR_DIR=str(var_dir),
        PYTHONPATH=str(REPO),
        DJANGO_SETTINGS_MODULE="companion.settings",
        CHAT_RATE_LIMIT="1000000/m",
        CHAT_REPLY_MAX_TOKENS=str(args.embedded_tokens),
        BENCH_TOKEN_RATE=str(args.token_rate),
        BENCH_REPLY_TOKENS=str(args.reply_tokens),
        TASKS_IN_PROCESS="0",
        LOG_LEVEL="WARNING",
        HF_HUB_OFFLINE="1",
        BENCH_NO_PROMPT_SECTIONS="1" if args.no_prompt_sections else "0",
        # one key for this process and Daphne: Daphne reads the sessions made here (without one, each
        # process would invent its own, since nothing here runs manage.py to save var/secret_key)
        SECRET_KEY=secrets.token_urlsafe(50),
    )
    return env


def django_setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_conversations(n: int, *, users: int = 20, temperature: float = 0.8) -> list[tuple[int, str]]:
    """n conversations spread over a few users; returns [(conversation_id, sessionid)]."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from companion.chat.services import conversation_start
    from personas.models import Persona

    persona = Persona.objects.create(
        name=f"Bench {time.time_ns()}",
        description="{{char}} is a friendly sailor who tells short stories about the sea to {{user}}.",
        greeting="Ahoy, {{user}}!",
        temperature=temperature,
    )
    User = get_user_model()
    sessions = []
    for i in range(max(1, min(users, n))):
        user = User.objects.create_user(f"bench{time.time_ns()}_{i}", first_name="Sam")
        client = Client()
        client.force_login(user)
        sessions.append((user, client.cookies["sessionid"].value))
    out = []
    for i in range(n):
        user, sid = sessions[i % len(sessions)]
        out.append((conversation_start(owner=user, persona=persona).pk, sid))
    return out


# --- Daphne ---------------------------------------------------------------------------


class Daphne:
    def __init__(self, env: dict[str, str], llm_backend: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "companion.asgi:application"],
            env={**env, "LLM_BACKEND": llm_backend},
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daphne exited: {self.proc.stderr.read().decode()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("daphne did not start listening")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def connect(port: int, conversation_id: int, sessionid: str):
    from websockets.asyncio.client import connect as ws_connect

    return ws_connect(
        f"ws://127.0.0.1:{port}/ws/conversations/{conversation_id}/",
        additional_headers={"Cookie": f"sessionid={sessionid}", "Origin": f"http://127.0.0.1:{port}"},
        open_timeout=120,
        ping_interval=None,
        max_queue=None,
    )


# --- part 1: relay --------------------------------------------------------------------


@dataclass
class RelayStats:
    latencies_ns: list[int] = field(default_factory=list)
    frames: int = 0
    delta_frames: int = 0
    multi_token_frames: int = 0
    streaming: int = 0  # replies between their message.created and message.done, now
    max_streaming: int = 0
    replies_ok: int = 0
    replies_bad: int = 0
    tokens_lost: int = 0
    tokens_duplicated: int = 0
    created_duplicated: int = 0
    errors: list[str] = field(default_factory=list)


async def chat(ws: Any, idx: int, messages: int, expected_tokens: int, stats: RelayStats) -> None:
    for k in range(messages):
        await ws.send(json.dumps({"type": "message.send", "text": f"hello {k}", "client_id": f"b{idx}-{k}"}))
        reply_id, text, indices, created = None, "", [], Counter()
        while True:
            raw = await ws.recv()
            received_ns = time.time_ns()
            stats.frames += 1
            frame = json.loads(raw)
            kind = frame["type"]
            if kind == "message.created":
                created[frame["message"]["id"]] += 1
                if frame["message"]["role"] == "persona":
                    reply_id = frame["message"]["id"]
                    stats.streaming += 1
                    stats.max_streaming = max(stats.max_streaming, stats.streaming)
            elif kind == "message.delta":
                stats.delta_frames += 1
                tokens = frame["text"].split()  # several when the server coalesced deltas
                stats.multi_token_frames += len(tokens) > 1
                for token in tokens:
                    token_index, emitted_ns = token.split(":")
                    stats.latencies_ns.append(received_ns - int(emitted_ns))
                    indices.append(int(token_index))
                if frame["offset"] == len(text):
                    text += frame["text"]
            elif kind == "message.done" and frame["message"]["id"] == reply_id:
                stats.streaming -= 1
                ok = frame["message"]["status"] == "complete" and frame["message"]["content"] == text
                stats.replies_ok += ok
                stats.replies_bad += not ok
                break
            elif kind == "error":
                stats.errors.append(frame["code"])
                break
        stats.tokens_lost += expected_tokens - len(set(indices))
        stats.tokens_duplicated += len(indices) - len(set(indices))
        stats.created_duplicated += sum(c - 1 for c in created.values())


async def relay(port: int, targets: list[tuple[int, str]], args: argparse.Namespace, daphne: Daphne) -> dict:
    opened: list[Any] = []
    t0 = time.perf_counter()
    for start in range(0, len(targets), 100):  # open in batches of 100
        batch = targets[start : start + 100]
        opened += await asyncio.gather(*(connect(port, cid, sid).__aenter__() for cid, sid in batch))
    connect_s = time.perf_counter() - t0
    rss_connected = daphne.rss_mb()

    stats = RelayStats()
    cpu0, client_cpu0, t1 = daphne.cpu_s(), time.process_time(), time.perf_counter()
    await asyncio.gather(
        *(chat(ws, i, args.messages, args.reply_tokens, stats) for i, ws in enumerate(opened[: args.active]))
    )
    stream_s = time.perf_counter() - t1
    cpu = daphne.cpu_s() - cpu0
    client_cpu = time.process_time() - client_cpu0

    # every connection, idle ones included, still answers a ping after the load
    pongs = await asyncio.gather(*(ws.ping() for ws in opened))
    answers = await asyncio.gather(*(asyncio.wait_for(p, 30) for p in pongs), return_exceptions=True)
    alive = sum(not isinstance(a, BaseException) for a in answers)
    for ws in opened:
        await ws.close()

    lat = sorted(stats.latencies_ns)

    def pct(q: float) -> float:
        return round(lat[min(len(lat) - 1, int(q * len(lat)))] / 1e6, 3) if lat else float("nan")

    return {
        "connections_requested": len(targets),
        "connections_held": alive,
        "connect_all_s": round(connect_s, 2),
        "daphne_rss_mb_with_connections": round(rss_connected, 1),
        "active_chats": args.active,
        "max_replies_streaming_at_once": stats.max_streaming,
        "replies_expected": args.active * args.messages,
        "replies_complete_and_exact": stats.replies_ok,
        "replies_bad": stats.replies_bad,
        "errors": dict(Counter(stats.errors)),
        "tokens_relayed": len(lat),
        "tokens_lost": stats.tokens_lost,
        "tokens_duplicated": stats.tokens_duplicated,
        "created_frames_duplicated": stats.created_duplicated,
        "stream_phase_s": round(stream_s, 2),
        "frames_per_s": round(stats.frames / stream_s, 1),
        "delta_frames": stats.delta_frames,
        "delta_frames_with_several_tokens": stats.multi_token_frames,
        "tokens_per_s_relayed": round(len(lat) / stream_s, 1),
        "tokens_per_s_offered": args.active * args.token_rate,
        "relay_latency_ms": {"p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99), "max": pct(1.0)},
        "daphne_cpu_percent_of_one_core": round(100 * cpu / stream_s, 1),
        "bench_client_cpu_percent_of_one_core": round(100 * client_cpu / stream_s, 1),
        "load_average_1m_after": round(os.getloadavg()[0], 2),
    }


# --- part 2: embedded model, websocket vs in-process ------------------------------------


async def ws_reply(port: int, conversation_id: int, sessionid: str, text: str) -> dict:
    async with connect(port, conversation_id, sessionid) as ws:
        t0 = time.perf_counter()
        await ws.send(json.dumps({"type": "message.send", "text": text, "client_id": "embedded-1"}))
        reply_id, first, content = None, None, ""
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "message.created" and frame["message"]["role"] == "persona":
                reply_id = frame["message"]["id"]
            elif frame["type"] == "message.delta" and first is None:
                first = time.perf_counter()
            elif frame["type"] == "message.done" and frame["message"]["id"] == reply_id:
                end = time.perf_counter()
                content = frame["message"]["content"]
                status = frame["message"]["status"]
                break
            elif frame["type"] == "error":
                raise RuntimeError(frame)
    return {"content": content, "status": status, "t_total": end - t0, "t_decode": end - (first or end)}


async def inproc_reply(backend: Any, turns: list, params: Any) -> dict:
    t0 = time.perf_counter()
    first, parts = None, []
    async for delta in backend.stream(turns, params=params):
        if first is None:
            first = time.perf_counter()
        parts.append(delta)
    end = time.perf_counter()
    return {
        "content": "".join(parts),
        "tokens": backend.last_generation.new_tokens,
        "t_total": end - t0,
        "t_decode": end - (first or end),
    }


def embedded(env: dict[str, str]) -> dict:
    from django.conf import settings

    from companion.chat.prompt import prompt_build
    from companion.chat.replies import sampling_for
    from companion.chat.services import message_post_user
    from companion.llm.llamacpp import LlamaCppBackend

    question = "Tell me a short story about the sea."
    (warm_ws, sid), (measured_ws, _), (inproc_conv_id, _) = make_conversations(3, users=1, temperature=0.0)

    # in-process: same persona, same owner, same text → the same prompt the consumer builds
    from companion.chat.models import Conversation

    conversation = Conversation.objects.select_related("persona", "owner").get(pk=inproc_conv_id)
    message_post_user(conversation=conversation, text=question, client_id="inproc")
    backend = LlamaCppBackend()
    build = prompt_build(conversation=conversation, backend=backend, budget_tokens=settings.CHAT_PROMPT_TOKEN_BUDGET)
    params = sampling_for(conversation.persona, user_name=build.user_name)
    asyncio.run(inproc_reply(backend, build.turns, params))  # load + warm up
    inproc = asyncio.run(inproc_reply(backend, build.turns, params))

    daphne = Daphne(env, "embedded")
    try:
        asyncio.run(ws_reply(daphne.port, warm_ws, sid, question))  # model load in Daphne + warm up
        via_ws = asyncio.run(ws_reply(daphne.port, measured_ws, sid, question))
    finally:
        daphne.stop()

    tokens = inproc["tokens"]
    same = via_ws["content"] == inproc["content"]
    ws_tps = tokens / via_ws["t_total"]
    in_tps = tokens / inproc["t_total"]
    return {
        "prompt_tokens": build.total_tokens,
        "new_tokens": tokens,
        "same_text_both_paths": same,
        "inprocess_tokens_per_s": round(in_tps, 2),
        "websocket_tokens_per_s": round(ws_tps, 2),
        "ratio_websocket_over_inprocess": round(ws_tps / in_tps, 3),
        "inprocess_decode_tokens_per_s": round((tokens - 1) / inproc["t_decode"], 2) if inproc["t_decode"] else None,
        "websocket_decode_tokens_per_s": round((tokens - 1) / via_ws["t_decode"], 2) if via_ws["t_decode"] else None,
        "websocket_status": via_ws["status"],
    }


def main() -> None:
    args = parse_args()
    result: dict[str, Any] = {"args": vars(args)}
    with tempfile.TemporaryDirectory(prefix="bench-ws-") as tmp:
        env = bench_env(Path(tmp), args)
        django_setup(env)
        if not args.skip_relay:
            targets = make_conversations(args.connections)
            daphne = Daphne(env, "bench.ws_backend.TimestampedBackend")
            try:
                result["relay"] = asyncio.run(relay(daphne.port, targets, args, daphne))
            finally:
                daphne.stop()
        if not args.skip_embedded:
            result["embedded"] = embedded(env)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
