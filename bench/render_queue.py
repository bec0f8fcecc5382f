"""Render queue benchmarks (CPU, no downloads).

1. Click-to-worker-start latency through Redis: render_job_request() to the
   moment a real `manage.py rundramatiq --queues render` process marks the job
   running (RenderJob.started_at - queued_at), one job at a time, p50/p95.
2. Previz seconds per 5 s clip (854x480, 16 fps): render only and render + H.264 encode, on five
   scenes (storm in a lamp room, neon rain street, snowy forest, foggy harbour, windy beach) with
   the demo persona's portrait, and the load average it was measured under.
3. LoRA swap (set_adapters between resident adapters) vs a full pipeline reload
   (DiffusionPipeline.from_pretrained) on the tiny random Wan pipeline.

    .venv/bin/python bench/render_queue.py [--jobs 20] [--skip-redis]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LATENCY_SCRIPT = r"""
import json, time
from django.contrib.auth import get_user_model
from django.db import transaction
from personas.models import Persona
from rendering.beat import SceneBeat
from rendering.models import RenderJob
from rendering.services import render_job_request
user = get_user_model().objects.create_user("bench", password="pw-bench-123")
persona = Persona.objects.create(name="Mira")
out = []
for i in range(N_JOBS):
    beat = SceneBeat(setting="a cafe", action="Mira smiles", duration_s=1.0, seed=i)
    with transaction.atomic():
        job, _ = render_job_request(persona=persona, beat=beat, requested_by=user, source="bench",
                                    idempotency_key=f"bench-{i}")
    while True:
        job.refresh_from_db()
        if job.is_finished:
            break
        time.sleep(0.02)
    out.append((job.started_at - job.queued_at).total_seconds() * 1000)
print("LAT " + json.dumps(out))
"""


def redis_latency(n_jobs: int, redis_url: str) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-render-"))
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
           "MEDIA_ROOT": str(tmp / "media"), "COMPANION_VAR_DIR": str(tmp / "var"), "RENDER_WIDTH": "96",
           "RENDER_HEIGHT": "64", "TASKS_IN_PROCESS": "0", "LOG_LEVEL": "WARNING"}
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    worker = subprocess.Popen([py, "manage.py", "rundramatiq", "--queues", "render", "--processes", "1",
                               "--threads", "1"], cwd=ROOT, env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(4)  # let the worker boot and start consuming before the first click
        script = LATENCY_SCRIPT.replace("N_JOBS", str(n_jobs))
        done = subprocess.run([py, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, capture_output=True,
                              text=True, check=True)
        lat = json.loads(next(ln for ln in done.stdout.splitlines() if ln.startswith("LAT "))[4:])
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
    lat_sorted = sorted(lat)
    return {"jobs": n_jobs, "p50_ms": statistics.median(lat), "p95_ms": lat_sorted[int(0.95 * (len(lat) - 1))],
            "max_ms": max(lat)}


PREVIZ_SCENES = [  # (setting, camera, lighting, time, weather, props, speech): what people evolve, worst moves first
    ("lamp room of the old lighthouse", "tilt_up", "rainy_night", "night", "storm", ["chart", "four mugs"],
     "Mind the ink, it's still wet. You picked a fine night to get stranded."),
    ("a neon city street", "dolly_zoom", "neon", "night", "rain", ["umbrella"], "Come on, it's only rain!"),
    ("a snowy pine forest", "orbit", "overcast", "day", "snow", ["lantern"], ""),
    ("the harbour wall", "crane_up", "golden_hour", "dusk", "fog", ["boat"], "Look, the boats are coming in."),
    ("moonlit beach", "handheld_tracking", "moonlight", "night", "wind", [], ""),
]


def previz_speed(repeats: int = 5) -> dict:
    """Seconds per 5 s 854x480 clip: render only, and render + H.264 encode (what a job costs), per scene."""
    from personas.portrait_art import draw_portrait
    from rendering import encode
    from rendering.beat import SceneBeat
    from rendering.renderers.base import RenderContext
    from rendering.renderers.previz import PrevizRenderer

    tmp = Path(tempfile.mkdtemp(prefix="bench-previz-"))
    portrait = tmp / "portrait.png"
    portrait.write_bytes(draw_portrait("mira-vale"))
    results = []
    for setting, camera, lighting, time_of_day, weather, props, speech in PREVIZ_SCENES[:repeats]:
        beat = SceneBeat(setting=setting, action="Mira looks up", camera=camera, lighting=lighting,
                         time_of_day=time_of_day, weather=weather, props=props, speech=speech, duration_s=5.0, seed=1)
        ctx = RenderContext(job_id="b", beat=beat, persona_id=1, persona_name="Mira", portrait_path=str(portrait),
                            width=854, height=480, fps=16)
        PrevizRenderer().render(ctx, lambda *a: None, lambda: False)  # the portrait's cut-out is cached per worker
        t0, c0 = time.perf_counter(), time.process_time()
        frames = list(PrevizRenderer().render(ctx, lambda *a: None, lambda: False).frames)
        render_s, render_cpu = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        clip = PrevizRenderer().render(ctx, lambda *a: None, lambda: False)
        encode.write_mp4(clip.frames, path=tmp / "c.mp4", fps=16)
        total_s, total_cpu = time.perf_counter() - t0, time.process_time() - c0
        # CPU seconds (all threads) are what the work costs; wall seconds also count the other tenants' load.
        results.append({"scene": f"{setting} / {camera} / {weather}", "render_s": round(render_s, 2),
                        "render_cpu_s": round(render_cpu, 2), "render_encode_s": round(total_s, 2),
                        "render_encode_cpu_s": round(total_cpu, 2), "frames": len(frames)})
    totals = [r["render_encode_s"] for r in results]
    cpu = [r["render_encode_cpu_s"] for r in results]
    return {"clip_s": 5.0, "size": "854x480@16", "scenes": results,
            "median_render_encode_s": round(statistics.median(totals), 2), "max_render_encode_s": max(totals),
            "median_render_encode_cpu_s": round(statistics.median(cpu), 2), "max_render_encode_cpu_s": max(cpu),
            "seconds_per_clip_second": round(statistics.median(totals) / 5.0, 3),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def lora_swap_vs_reload() -> dict:
    import torch
    from diffusers import DiffusionPipeline

    from rendering.adapters import AdapterCache
    from tests.rendering.wan_builder import build_wan_pipeline, make_lora

    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="bench-lora-"))
    build_wan_pipeline(tmp / "pipe")
    reloads = []
    for _ in range(5):
        t0 = time.perf_counter()
        pipe = DiffusionPipeline.from_pretrained(tmp / "pipe", dtype=torch.float32)
        reloads.append(time.perf_counter() - t0)
    paths = []
    for seed in (1, 2):
        (tmp / f"l{seed}").mkdir()
        make_lora(pipe, tmp / f"l{seed}", seed=seed)
        paths.append(str(tmp / f"l{seed}" / "lora.safetensors"))
    cache = AdapterCache(pipe, capacity=4)
    t0 = time.perf_counter()
    cache.activate(path=paths[0], persona_id=1)
    first_load = time.perf_counter() - t0
    cache.activate(path=paths[1], persona_id=2)
    swaps = []
    for i in range(50):
        t0 = time.perf_counter()
        cache.activate(path=paths[i % 2], persona_id=1 + i % 2)
        swaps.append(time.perf_counter() - t0)
    reload_s, swap_s = statistics.median(reloads), statistics.median(swaps)
    return {"reload_ms": round(reload_s * 1000, 1), "first_lora_load_ms": round(first_load * 1000, 1),
            "swap_ms": round(swap_s * 1000, 2), "reload_over_swap": round(reload_s / swap_s, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"))
    parser.add_argument("--skip-redis", action="store_true")
    parser.add_argument("--previz-only", action="store_true", help="only the previz timings (part 2)")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "companion.settings")
    import django

    django.setup()
    report = {}
    if not args.skip_redis and not args.previz_only:
        report["click_to_worker_start_redis"] = redis_latency(args.jobs, args.redis_url)
    report["previz"] = previz_speed()
    if not args.previz_only:
        report["lora_swap_vs_reload"] = lora_swap_vs_reload()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
