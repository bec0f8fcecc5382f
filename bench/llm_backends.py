"""Embedded chat model: llama.cpp (the default) vs transformers, side by side on the packaged GGUF.

``--vllm [options]`` (first) instead measures the production engine, a real vLLM, through
Daphne + websocket vs straight: see bench/vllm_relay.py.

    .venv/bin/python bench/llm_backends.py [--backends llamacpp,llamacpp-q4_1,transformers] [--threads 1,2]
        [--contention 0,2] [--prompt-tokens 1500] [--decode-tokens 64] [--repeats 3]

Each measurement runs in a subprocess of its own, so load time and RSS are
that backend's alone (transformers imports torch; llama.cpp does not need to):

- llama.cpp, through ``LlamaCppBackend`` (the app's path: generation thread,
  stop-string holder, asyncio bridge), on the Q8_0 copy the app loads and on
  the Q4_1 file as shipped (``llamacpp-q4_1``), once per ``--threads`` value
  (EMBEDDED_LLM_THREADS): load, decode tokens/s (greedy, short prompt), time
  to first token for a ``--prompt-tokens`` chat prompt cold (a persona never
  seen), with its prefix live in the KV (the same chat, next message), and
  restored from the prefix-state cache after another prompt overwrote the KV;
  ``complete_json`` time and validity over 10 seeds.
- transformers (the path llama.cpp replaced, loaded here directly): the GGUF
  de-quantised by ``AutoModelForCausalLM.from_pretrained(gguf_file=…)``, greedy
  ``generate`` in a fresh thread; its time to first token is the prefill, as
  it keeps no cache between calls.

``--ab-rounds N`` instead compares the shipped Q4_1 file with its Q8_0 copy
in one process, alternating (decode, 500-token prefill), so both see the
same load. ``--contention N`` runs each measurement again with N busy-looping processes
beside it (what the shared 2-core machine looks like when others work).
Prints one JSON object per measurement, then a Markdown table.
(A little over 400 lines: a standalone script that starts and measures each backend in turn.)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "companion.settings")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PERSONA = (
    "You are Mia, a cheerful barista at the Harbour Café, talking with Sam. You are warm, curious and a "
    "little teasing; you love coffee, old jazz records and the sea at dusk. Stay in character; reply in a "
    "few sentences. What you remember about Sam: Sam has a cat called Pixel; Sam works as a nurse on night "
    "shifts; Sam plans a trip to Lisbon in May. Your story so far: "
)
FILLER = (
    "We walked along the harbour at dusk, talking about the bakery on the corner, the rain last week, "
    "your sister's new job and the old piano in the hall. "
)
SHORT = [("system", "You are Mia, a cheerful barista."), ("user", "Tell me a long story about the harbour.")]


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def rss_mib() -> float:
    import psutil

    return round(psutil.Process().memory_info().rss / 2**20)


def max_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def long_chat(count, tokens: int, tag: str, question: str) -> list[tuple[str, str]]:
    """A persona chat whose prompt is about ``tokens`` long; ``tag`` makes a persona never seen before."""
    history = ""
    while count(PERSONA + history) < tokens - 60:
        history += FILLER
    return [
        ("system", f"[{tag}] " + PERSONA + history),
        ("user", "Hi Mia, it's Sam again."),
        ("assistant", "Sam! Good to see you. How is Pixel?"),
        ("user", question),
    ]


# --- llama.cpp ----------------------------------------------------------------------


def run_llamacpp(args: argparse.Namespace) -> dict:
    import asyncio

    started = time.perf_counter()
    import django

    django.setup()
    from pydantic import BaseModel, Field

    from companion.llm.base import ChatTurn, SamplingParams
    from companion.llm.llamacpp import LlamaCppBackend

    class Memory(BaseModel):
        kind: str = Field(max_length=20)
        text: str = Field(max_length=80)
        importance: int = Field(ge=1, le=5)

    import_s = time.perf_counter() - started
    backend = LlamaCppBackend()
    started = time.perf_counter()
    loaded = backend.load()
    load_s = time.perf_counter() - started
    rss_loaded = rss_mib()

    def turns(pairs):
        return [ChatTurn(role, text) for role, text in pairs]

    async def generate(pairs, max_tokens: int, **params) -> tuple[dict, str]:
        text = "".join(
            [
                d
                async for d in backend.stream(
                    turns(pairs), params=SamplingParams(temperature=0.0, max_tokens=max_tokens, **params)
                )
            ]
        )
        r = backend.last_generation
        return {
            "prompt_tokens": r.prompt_tokens,
            "cached_tokens": r.cached_tokens,
            "new_tokens": r.new_tokens,
            "first_token_s": r.first_token_at - r.started_at,
            "decode_s": r.finished_at - r.first_token_at,
        }, text

    async def main() -> dict:
        await generate(SHORT, 4)  # warm-up
        decode = []
        for _ in range(args.repeats):
            r, _ = await generate(SHORT, args.decode_tokens)
            decode.append((r["new_tokens"] - 1) / r["decode_s"])
        count = backend.count_tokens
        cold, live, restored = [], [], []
        for i in range(args.repeats):
            chat = long_chat(count, args.prompt_tokens, f"run {i}", "What should I cook tonight?")
            r, reply = await generate(chat, 16)
            cold.append(r)
            follow = [*chat, ("assistant", reply), ("user", "And a dessert?")]
            r, _ = await generate(follow, 16)
            live.append(r)
            await generate([("user", "Count to five.")], 8)  # another prompt overwrites the live KV
            r, _ = await generate([*follow, ("assistant", "Maybe."), ("user", "Thanks!")], 16)
            restored.append(r)
        js, valid = [], 0
        for seed in range(10):
            t0 = time.perf_counter()
            try:
                await backend.complete_json(
                    turns([("system", "Extract one memory about the user."), ("user", "I adopted a cat, Pixel.")]),
                    schema=Memory,
                    params=SamplingParams(temperature=0.7, max_tokens=120, seed=seed),
                )
                valid += 1
            except Exception:  # counting invalid outputs is the point
                pass
            js.append(time.perf_counter() - t0)
        return {
            "decode_tokens_per_s": median(decode),
            "prompt_tokens": cold[0]["prompt_tokens"],
            "first_token_cold_s": median([r["first_token_s"] for r in cold]),
            "first_token_prefix_live_s": median([r["first_token_s"] for r in live]),
            "first_token_prefix_restored_s": median([r["first_token_s"] for r in restored]),
            "restored_cached_tokens": restored[0]["cached_tokens"],
            "prefill_tokens_per_s": round(cold[0]["prompt_tokens"] / median([r["first_token_s"] for r in cold]), 1),
            "complete_json_s": median(js),
            "complete_json_valid": f"{valid}/10",
            "prefix_states": len(loaded.prefix_states or ()),
            "prefix_states_mib": round((loaded.prefix_states.size_bytes if loaded.prefix_states else 0) / 2**20),
        }

    result = asyncio.run(main())
    return {
        "backend": "llama.cpp",
        "model": loaded.path.name.split(".")[-2],  # Q8_0 (the re-quantized copy) or Q4_1 (as shipped)
        "threads": loaded.n_threads,
        "import_s": round(import_s, 2),
        "load_s": round(load_s, 2),
        "rss_after_load_mib": rss_loaded,
        **result,
        "max_rss_mib": max_rss_mib(),
    }


# --- transformers ---------------------------------------------------------------------


def in_fresh_thread(fn, *args):
    """Run ``fn`` in a new thread: torch's generate from a reused thread was erratic here."""
    out: list = []
    thread = threading.Thread(target=lambda: out.append(fn(*args)))
    thread.start()
    thread.join()
    return out[0]


def run_transformers(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    import torch
    import transformers.integrations.ggml  # noqa: F401 - import the GGUF integration once, on this thread
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import_s = time.perf_counter() - started
    torch.set_num_threads(args.threads_one)
    import django

    django.setup()
    from companion.llm.model_files import embedded_gguf_path

    path = embedded_gguf_path()
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name).eval()
    load_s = time.perf_counter() - started
    rss_loaded = rss_mib()

    def ids(pairs):
        messages = [{"role": r, "content": t} for r, t in pairs]
        return tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )

    def generate(inputs, new_tokens: int) -> tuple[float, int]:
        with torch.inference_mode():
            t0 = time.perf_counter()
            out = model.generate(
                **inputs, max_new_tokens=new_tokens, do_sample=False, repetition_penalty=1.1,
                pad_token_id=tokenizer.eos_token_id,
            )
            return time.perf_counter() - t0, int(out.shape[1] - inputs["input_ids"].shape[1])

    short = ids(SHORT)
    in_fresh_thread(generate, short, 4)  # warm-up
    decode = []
    for _ in range(args.repeats):
        first, _ = in_fresh_thread(generate, short, 1)
        total, n = in_fresh_thread(generate, short, args.decode_tokens)
        decode.append((n - 1) / (total - first))

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False))

    cold = []
    for i in range(min(args.repeats, 2)):  # slow: two are enough to see it
        inputs = ids(long_chat(count, args.prompt_tokens, f"run {i}", "What should I cook tonight?"))
        cold.append(in_fresh_thread(generate, inputs, 1)[0])
    return {
        "backend": "transformers",
        "model": "Q4_1 -> fp32",
        "threads": torch.get_num_threads(),
        "import_s": round(import_s, 2),
        "load_s": round(load_s, 2),
        "rss_after_load_mib": rss_loaded,
        "decode_tokens_per_s": median(decode),
        "prompt_tokens": int(inputs["input_ids"].shape[1]),
        "first_token_cold_s": median(cold),
        "prefill_tokens_per_s": round(int(inputs["input_ids"].shape[1]) / median(cold), 1),
        "max_rss_mib": max_rss_mib(),
    }


# --- Q4_1 as shipped vs its Q8_0 copy, interleaved -----------------------------------------


def run_ab(rounds: int) -> list[dict]:
    """Decode and 500-token prefill on both files in one process, alternating, so both see the same load."""
    import django

    django.setup()
    import llama_cpp

    from companion.llm.model_files import embedded_gguf_path, requantized

    shipped = embedded_gguf_path()
    files = {"Q4_1": shipped, "Q8_0": requantized(shipped, "Q8_0")}
    options = {"n_ctx": 2048, "n_threads": 1, "n_threads_batch": 1, "flash_attn": True, "verbose": False}
    models = {k: llama_cpp.Llama(model_path=str(v), **options) for k, v in files.items()}
    rows = []
    for i in range(rounds):
        for name, llama in models.items():
            prompt = llama.tokenize(
                b"<|im_start|>user\nTell me a long story about the sea.<|im_end|>\n<|im_start|>assistant\n",
                add_bos=False, special=True,
            )
            llama.reset()
            n, first = 0, None
            for _ in llama.generate(prompt, temp=0.0):
                n += 1
                first = first or time.perf_counter()
                if n >= 48:
                    break
            decode = (n - 1) / (time.perf_counter() - first)
            filler = llama.tokenize((FILLER * 12).encode(), add_bos=False)[:500]
            llama.reset()
            started = time.perf_counter()
            llama.eval(filler)
            prefill = 500 / (time.perf_counter() - started)
            rows.append({"round": i, "weights": name, "decode_tokens_per_s": round(decode, 1),
                         "prefill_tokens_per_s": round(prefill, 1), "load_average_1m": round(os.getloadavg()[0], 1)})
            print(json.dumps(rows[-1]), flush=True)
    return rows


# --- driver ------------------------------------------------------------------------------


def burn() -> None:
    while True:
        pass


def measure(args: argparse.Namespace, backend: str, threads: int, contention: int) -> dict:
    burners = [multiprocessing.Process(target=burn, daemon=True) for _ in range(contention)]
    for p in burners:
        p.start()
    env = {**os.environ, "EMBEDDED_LLM_THREADS": str(threads)}
    if backend == "llamacpp-q4_1":  # the packaged file as shipped, not its Q8_0 copy
        env["EMBEDDED_LLM_REQUANTIZE"] = ""
    command = [
        sys.executable, __file__, "--worker", backend, "--threads-one", str(threads),
        "--prompt-tokens", str(args.prompt_tokens), "--decode-tokens", str(args.decode_tokens),
        "--repeats", str(args.repeats),
    ]
    load_before = os.getloadavg()[0]
    try:
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    finally:
        for p in burners:
            p.kill()
    if out.returncode != 0:
        return {"backend": backend, "threads": threads, "error": out.stderr[-2000:]}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result.update(
        contention=contention,
        load_average_1m=[round(load_before, 2), round(os.getloadavg()[0], 2)],
    )
    return result


COLUMNS = [
    ("backend", "backend"), ("model", "weights"), ("threads", "threads"), ("contention", "burners"),
    ("load_average_1m", "load avg"),
    ("load_s", "load s"), ("max_rss_mib", "max RSS MiB"), ("decode_tokens_per_s", "decode tok/s"),
    ("prompt_tokens", "prompt tok"), ("first_token_cold_s", "1st token cold s"),
    ("first_token_prefix_live_s", "1st token, prefix live s"),
    ("first_token_prefix_restored_s", "1st token, prefix restored s"), ("complete_json_s", "JSON s"),
    ("complete_json_valid", "JSON valid"),
]


def table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(h for _, h in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = []
        for key, _ in COLUMNS:
            value = row.get(key, "—")
            cells.append(" to ".join(map(str, value)) if isinstance(value, list) else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    if sys.argv[1:2] == ["--vllm"]:  # the served production engine: bench/vllm_relay.py
        from bench.vllm_relay import main as vllm_main

        return vllm_main(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--backends", default="llamacpp,llamacpp-q4_1,transformers",
        help="llamacpp (the app's default: the Q8_0 copy), llamacpp-q4_1 (the GGUF as shipped), transformers",
    )
    parser.add_argument("--threads", default="1,2", help="llama.cpp threads to compare (transformers: the first)")
    parser.add_argument("--contention", default="0", help="busy-looping processes beside each run, e.g. 0,2")
    parser.add_argument("--prompt-tokens", type=int, default=1500)
    parser.add_argument("--decode-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ab-rounds", type=int, default=0, help="only: Q4_1 vs its Q8_0 copy, interleaved")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--threads-one", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run = run_transformers if args.worker == "transformers" else run_llamacpp
        print(json.dumps(run(args)))
        return
    if args.ab_rounds:
        run_ab(args.ab_rounds)
        return
    threads = [int(t) for t in args.threads.split(",")]
    rows = []
    for contention in (int(c) for c in args.contention.split(",")):
        for backend in args.backends.split(","):
            for n in threads if backend == "llamacpp" else threads[:1]:  # threads compared on the default
                row = measure(args, backend, n, contention)
                print(json.dumps(row), flush=True)
                rows.append(row)
    print(table(rows))


if __name__ == "__main__":
    main()
