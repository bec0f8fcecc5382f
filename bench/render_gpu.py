"""GPU render benchmark: our diffusers code path vs a plain diffusers script, same pipeline and settings.

Builds a random-weight Wan pipeline (``--size 1.3b``: the published Wan 2.1
T2V 1.3B transformer config and the full Wan VAE, same compute as the real
weights; the text encoder is tiny, it runs once per clip), saves it, then
renders with (a) DiffusersVideoRenderer, as a worker does, and (b) a plain
``DiffusionPipeline.from_pretrained(...)(...)`` call.  Reports seconds per
denoising step, end-to-end seconds per clip, peak GPU memory and the ratio.

    python bench/render_gpu.py                 # CUDA: 1.3B config, 832x480, 81 frames, 30 steps
    python bench/render_gpu.py --tiny          # CPU smoke run on the tiny config
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny config on CPU (runs anywhere)")
    parser.add_argument("--width", type=int, default=832)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--guidance", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--pipeline-dir", default="", help="reuse a saved pipeline instead of building one")
    args = parser.parse_args()
    if args.tiny:
        args.width = args.height = 32
        args.frames, args.steps = 9, 4

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "companion.settings")
    import django

    django.setup()
    import torch
    from diffusers import DiffusionPipeline
    from django.conf import settings

    from rendering.beat import SceneBeat
    from rendering.renderers.base import RenderContext
    from rendering.renderers.diffusers_video import DiffusersVideoRenderer
    from tests.rendering.wan_builder import build_wan_pipeline

    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    dtype = torch.bfloat16 if cuda else torch.float32
    path = Path(args.pipeline_dir) if args.pipeline_dir else None
    if path is None:
        path = Path(tempfile.mkdtemp(prefix="wan-bench-")) / "pipe"
        t0 = time.perf_counter()
        build_wan_pipeline(path, size="tiny" if args.tiny else "1.3b")
        print(f"built random pipeline in {time.perf_counter() - t0:.1f} s at {path}", file=sys.stderr)

    fps = 8 if args.tiny else 16  # so (frames - 1) / fps is a valid duration (>= 1 s)
    settings.RENDER_PIPELINE_PATH = str(path)
    settings.RENDER_WIDTH, settings.RENDER_HEIGHT, settings.RENDER_FPS = args.width, args.height, fps
    settings.RENDER_STEPS, settings.RENDER_GUIDANCE_SCALE = args.steps, args.guidance
    settings.RENDER_TORCH_DTYPE = "bfloat16"
    beat = SceneBeat(setting="a neon city street", action="she turns and smiles", camera="dolly_in",
                     lighting="neon", duration_s=(args.frames - 1) / fps, prompt="she smiles in the neon rain",
                     negative_prompt="blurry", seed=42)
    ctx = RenderContext(job_id="bench", beat=beat, persona_id=1, persona_name="Mira", width=args.width,
                        height=args.height, fps=fps)

    def peak_reset():
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()

    def peak_gib() -> float | None:
        return round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None

    # (a) our path
    renderer = DiffusersVideoRenderer()
    t0 = time.perf_counter()
    renderer.pipeline()
    load_s = time.perf_counter() - t0
    ours, step_times = [], []
    for _ in range(args.repeats):
        stamps: list[float] = []
        peak_reset()
        t0 = time.perf_counter()
        def on_progress(step, total, phase, stamps=stamps):
            if phase == "denoising":
                stamps.append(time.perf_counter())

        clip = renderer.render(ctx, on_progress, lambda: False)
        if cuda:
            torch.cuda.synchronize()
        ours.append(time.perf_counter() - t0)
        step_times += [b - a for a, b in itertools.pairwise(stamps)]
    ours_peak = peak_gib()
    frames = clip.frame_count
    del renderer
    if cuda:
        torch.cuda.empty_cache()

    # (b) a plain diffusers script with the same settings
    pipe = DiffusionPipeline.from_pretrained(path, dtype=dtype).to(device)
    pipe.set_progress_bar_config(disable=True)
    plain = []
    for _ in range(args.repeats):
        peak_reset()
        t0 = time.perf_counter()
        pipe(prompt=beat.prompt, negative_prompt=beat.negative_prompt, height=args.height, width=args.width,
             num_frames=args.frames, num_inference_steps=args.steps, guidance_scale=args.guidance,
             generator=torch.Generator(device=device).manual_seed(42), output_type="np")
        if cuda:
            torch.cuda.synchronize()
        plain.append(time.perf_counter() - t0)

    report = {
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "config": "tiny" if args.tiny else "wan2.1-1.3b (random weights)",
        "size": f"{args.width}x{args.height}", "frames": frames, "steps": args.steps, "dtype": str(dtype),
        "pipeline_load_s": round(load_s, 2),
        "seconds_per_step": round(statistics.median(step_times), 4) if step_times else None,
        "ours_seconds_per_clip": round(min(ours), 3),
        "plain_seconds_per_clip": round(min(plain), 3),
        "ratio_ours_over_plain": round(min(ours) / min(plain), 3),
        "peak_gpu_gib_ours": ours_peak,
        "peak_gpu_gib_plain": peak_gib(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
