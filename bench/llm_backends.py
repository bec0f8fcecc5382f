"""Embedded LLM speed: load, prefill and decode tokens/s, our streaming overhead, JSON mode.

    .venv/bin/python bench/llm_backends.py [--prompt-tokens 512] [--decode-tokens 64] [--repeats 3]

Calls SmolLM2-135M (the embedded default) in-process, twice per measurement:
plainly through ``model.generate`` in a worker thread (the floor) and through
``EmbeddedBackend.stream`` (worker thread + streamer + asyncio bridge), with
the same greedy settings so both produce the same tokens. Medians over
``--repeats``. ``complete_json`` is timed on a small schema (xgrammar mask per
token). Prints JSON.

The direct calls run in a fresh thread each, like the backend's: on this
shared 2-core machine, ``generate`` called from the main thread (or a reused
executor thread) was erratic (2.8 s to 20 s for the same 32 tokens, pure
transformers, no Django), while a fresh thread stayed at about 3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "companion.settings")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import django

django.setup()

import torch  # noqa: E402
from pydantic import BaseModel, Field  # noqa: E402

from companion.llm.base import ChatTurn, SamplingParams  # noqa: E402
from companion.llm.embedded import EmbeddedBackend  # noqa: E402

FILLER = (
    "We walked along the harbour at dusk, talking about the bakery on the corner, the rain last week, "
    "your sister's new job and the old piano in the hall. "
)


class Memory(BaseModel):
    kind: str = Field(max_length=20)
    text: str = Field(max_length=80)
    importance: int = Field(ge=1, le=5)


def prompt_of(backend: EmbeddedBackend, tokens: int) -> list[ChatTurn]:
    """A chat whose templated prompt is about ``tokens`` long."""
    history = ""
    while backend.count_tokens(history) < tokens - 40:
        history += FILLER
    return [
        ChatTurn("system", "You are Mia, a cheerful barista. Our story so far: " + history),
        ChatTurn("user", "Tell me a long story about the harbour, in detail."),
    ]


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def direct(backend: EmbeddedBackend, turns: list[ChatTurn], new_tokens: int) -> tuple[float, float, int]:
    """(prefill s, total s, tokens) for plain model calls, no backend machinery."""
    loaded = backend.load()
    inputs = loaded.prompt_ids(turns)
    with torch.inference_mode():
        started = time.perf_counter()
        loaded.model(**inputs)  # one forward over the prompt: the prefill
        prefill = time.perf_counter() - started
        started = time.perf_counter()
        out = loaded.model.generate(
            **inputs,
            max_new_tokens=new_tokens,
            do_sample=False,
            repetition_penalty=backend.repetition_penalty,
            pad_token_id=loaded.tokenizer.eos_token_id,
        )
        total = time.perf_counter() - started
    return prefill, total, int(out.shape[1] - inputs["input_ids"].shape[1])


async def in_fresh_thread(fn, *args):
    """Run ``fn`` in a new thread (not the executor's reused ones) and await its result."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def run() -> None:
        try:
            result = fn(*args)
        except BaseException as exc:
            loop.call_soon_threadsafe(future.set_exception, exc)
        else:
            loop.call_soon_threadsafe(future.set_result, result)

    threading.Thread(target=run, daemon=True).start()
    return await future


async def streamed(backend: EmbeddedBackend, turns: list[ChatTurn], new_tokens: int) -> tuple[float, float, int, int]:
    """(time to first delta s, total s, tokens, deltas) through EmbeddedBackend.stream."""
    params = SamplingParams(temperature=0, max_tokens=new_tokens)
    started = time.perf_counter()
    first = None
    deltas = 0
    async for _ in backend.stream(turns, params=params):
        first = first or time.perf_counter()
        deltas += 1
    total = time.perf_counter() - started
    return (first or total) - started, total, backend.last_generation.new_tokens, deltas


async def json_mode(backend: EmbeddedBackend) -> tuple[float, int]:
    turns = [
        ChatTurn("system", "Extract one memory about the user from their message."),
        ChatTurn("user", "I adopted a cat called Pixel last week and I love her."),
    ]
    started = time.perf_counter()
    await backend.complete_json(turns, schema=Memory, params=SamplingParams(temperature=0.7, max_tokens=200, seed=1))
    return time.perf_counter() - started, backend.last_generation.new_tokens


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--decode-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    backend = EmbeddedBackend()
    started = time.perf_counter()
    backend.load()
    load_s = time.perf_counter() - started
    turns = prompt_of(backend, args.prompt_tokens)
    prompt_tokens = backend.load().prompt_ids(turns)["input_ids"].shape[1]

    await in_fresh_thread(direct, backend, turns, 4)  # warm-up: first calls allocate and pick kernels
    await json_mode(backend)  # warm-up: compiles and caches the grammar

    raw, ours, js = [], [], []
    for _ in range(args.repeats):
        raw.append(await in_fresh_thread(direct, backend, turns, args.decode_tokens))
        ours.append(await streamed(backend, turns, args.decode_tokens))
        js.append(await json_mode(backend))

    raw_prefill = median([r[0] for r in raw])
    raw_total = median([r[1] for r in raw])
    raw_tokens = raw[0][2]
    ttft = median([o[0] for o in ours])
    ours_total = median([o[1] for o in ours])
    ours_tokens = ours[0][2]
    result = {
        "model": backend.path.name,
        "torch_threads": torch.get_num_threads(),
        "load_s": round(load_s, 2),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "prompt_tokens": int(prompt_tokens),
        "direct": {
            "prefill_s": raw_prefill,
            "prefill_tokens_per_s": round(prompt_tokens / raw_prefill, 1),
            "generate_s": raw_total,
            "new_tokens": raw_tokens,
            "decode_tokens_per_s": round((raw_tokens - 1) / (raw_total - raw_prefill), 1),
        },
        "embedded_backend_stream": {
            "time_to_first_delta_s": ttft,
            "total_s": ours_total,
            "new_tokens": ours_tokens,
            "deltas": ours[0][3],
            "decode_tokens_per_s": round((ours_tokens - 1) / (ours_total - ttft), 1),
        },
        "stream_vs_direct_throughput": round(raw_total / ours_total * ours_tokens / raw_tokens, 3),
        "complete_json": {
            "seconds": median([j[0] for j in js]),
            "tokens": int(statistics.median([j[1] for j in js])),
            "tokens_per_s": round(statistics.median([j[1] / j[0] for j in js]), 1),
        },
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
