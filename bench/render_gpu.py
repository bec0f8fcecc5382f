"""GPU render benchmark: our diffusers path with each acceleration setting vs plain diffusers, same seed.

Builds a random-weight Wan pipeline (``--size 1.3b``: the published Wan 2.1
T2V 1.3B transformer config and the full Wan VAE, same compute as the real
weights; the text encoder is tiny, it runs once per clip), saves it, then
renders the same beat at the same seed with

- ``plain``: ``DiffusionPipeline.from_pretrained(...)(...)``, nothing of ours;
- ``ours``: DiffusersVideoRenderer with every acceleration off, as a default worker;
- ``first_block``: + diffusers' First Block Cache (``RENDER_CACHE=first_block``);
- ``compile``: + torch.compile of the repeated blocks and LoRA hotswap
  (``RENDER_COMPILE=1``); reports the compile time and whether swapping the
  persona LoRA recompiled;
- ``fast``: the fast profile (``RENDER_PROFILE=fast``: few steps, guidance off; a
  step-distilled LoRA when ``--fast-lora`` names one);
- ``fast_compile``: both.

For each: seconds per denoising step, seconds per clip, peak GPU memory, the
ratio to plain, and quality next to speed: per-frame PSNR and SSIM against the
plain clip (random weights make the frames noise-like, so these say how far an
acceleration moves the output, not how good it looks). One JSON line per
variant goes to stdout (and ``--out``) as soon as it is measured.

    python bench/render_gpu.py                 # CUDA: 1.3B config, 832x480, 81 frames, 30 steps
    python bench/render_gpu.py --tiny          # CPU smoke run on the tiny config

Needs only the rendering package, Django (settings), diffusers and torch: it
configures its own settings, so it runs on a bare GPU box.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VARIANTS = ("plain", "ours", "fast", "first_block", "compile", "fast_compile")


def psnr_ssim(a: np.ndarray, b: np.ndarray) -> tuple[float | None, float | None]:
    """Mean per-frame PSNR (dB) and SSIM of two uint8 clips (T, H, W, 3); SSIM needs scikit-image."""
    n = min(len(a), len(b))
    mse = [float(np.mean((a[i].astype(np.float64) - b[i].astype(np.float64)) ** 2)) for i in range(n)]
    psnr = statistics.mean(99.0 if m == 0 else 10 * np.log10(255.0**2 / m) for m in mse)
    try:
        from skimage.metrics import structural_similarity
    except ImportError:
        return round(psnr, 2), None
    ssim = statistics.mean(structural_similarity(a[i], b[i], channel_axis=-1, data_range=255) for i in range(n))
    return round(psnr, 2), round(float(ssim), 4)


def as_uint8(frames) -> np.ndarray:
    video = np.asarray(frames)
    if video.dtype != np.uint8:
        video = (np.clip(np.nan_to_num(video), 0.0, 1.0) * 255).round().astype(np.uint8)
    return video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny config on CPU (runs anywhere)")
    parser.add_argument("--width", type=int, default=832)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--guidance", type=float, default=5.0)
    parser.add_argument("--fast-steps", type=int, default=4)
    parser.add_argument("--fast-lora", default="", help="a step-distilled LoRA for the fast profile")
    parser.add_argument("--cache-threshold", default="0.05", help="comma-separated: one first_block run each")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--pipeline-dir", default="", help="reuse a saved pipeline instead of building one")
    parser.add_argument("--out", default="", help="also append each JSON line to this file")
    args = parser.parse_args()
    if args.tiny:
        args.width = args.height = 32
        args.frames, args.steps = 9, 4

    import torch
    from django.conf import settings

    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    dtype = torch.bfloat16 if cuda else torch.float32
    if not cuda:
        torch.set_num_threads(1)  # thread contention on a shared CPU turns 0.1 s renders into seconds
    settings.configure(RENDER_PIPELINE_PATH="", RENDER_TORCH_DTYPE="bfloat16", RENDER_LORA_CACHE_SIZE=8,
                       RENDER_STEPS=args.steps, RENDER_GUIDANCE_SCALE=args.guidance)
    import django

    django.setup()
    from diffusers import DiffusionPipeline, WanTransformer3DModel

    from rendering.beat import SceneBeat
    from rendering.renderers.acceleration import Acceleration
    from rendering.renderers.base import RenderContext
    from rendering.renderers.diffusers_video import DiffusersVideoRenderer
    from tests.rendering.wan_builder import build_wan_pipeline, make_lora

    path = Path(args.pipeline_dir) if args.pipeline_dir else None
    if path is None:
        path = Path(tempfile.mkdtemp(prefix="wan-bench-")) / "pipe"
        t0 = time.perf_counter()
        build_wan_pipeline(path, size="tiny" if args.tiny else "1.3b", dtype=dtype)
        print(f"built random pipeline in {time.perf_counter() - t0:.1f} s at {path}", file=sys.stderr)

    fps = 8 if args.tiny else 16  # so (frames - 1) / fps is a valid duration (>= 1 s)
    beat = SceneBeat(setting="a neon city street", action="she turns and smiles", camera="dolly_in",
                     lighting="neon", duration_s=(args.frames - 1) / fps, prompt="she smiles in the neon rain",
                     negative_prompt="blurry", seed=42)

    def ctx(lora: str | None = None, persona: int = 1) -> RenderContext:
        return RenderContext(job_id="bench", beat=beat, persona_id=persona, persona_name="Mira",
                             width=args.width, height=args.height, fps=fps, lora_path=lora)

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    def peak_reset() -> None:
        if cuda:
            sync()
            torch.cuda.reset_peak_memory_stats()

    def peak_gib() -> float | None:
        return round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None

    def free() -> None:
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()

    def emit(row: dict) -> None:
        line = json.dumps(row)
        print(line, flush=True)
        if args.out:
            with open(args.out, "a") as fh:
                fh.write(line + "\n")

    base = {"device": torch.cuda.get_device_name(0) if cuda else "cpu", "torch": torch.__version__,
            "config": "tiny" if args.tiny else "wan2.1-1.3b (random weights)",
            "size": f"{args.width}x{args.height}", "frames": args.frames, "dtype": str(dtype)}
    wanted = args.variants.split(",")
    reference: np.ndarray | None = None
    plain_s: float | None = None

    # two persona LoRAs of one shape, for the compiled hotswap check; made on a transformer of their own
    # (make_lora adds and deletes an adapter, which would leave peft wrappers in the plain pipeline)
    loras = []
    lora_dir = Path(tempfile.mkdtemp(prefix="bench-lora-"))
    owner = SimpleNamespace(transformer=WanTransformer3DModel.from_pretrained(path, subfolder="transformer"))
    for seed in (1, 2):
        make_lora(owner, lora_dir / f"persona{seed}", seed=seed, rank=8)
        loras.append(str(lora_dir / f"persona{seed}" / "lora.safetensors"))
    del owner
    pipe = DiffusionPipeline.from_pretrained(path, dtype=dtype).to(device)
    pipe.set_progress_bar_config(disable=True)
    # warm-up (CUDA context, kernels, allocator) so the first measured variant is not charged for it
    pipe(prompt=beat.prompt, height=args.height // 16 * 16, width=args.width // 16 * 16, num_frames=args.frames,
         num_inference_steps=2, guidance_scale=args.guidance, output_type="np")
    sync()
    if "plain" in wanted:
        times, stamps = [], []
        for _ in range(args.repeats):
            peak_reset()
            t0 = time.perf_counter()
            out = pipe(prompt=beat.prompt, negative_prompt=beat.negative_prompt, height=args.height // 16 * 16,
                       width=args.width // 16 * 16, num_frames=args.frames, num_inference_steps=args.steps,
                       guidance_scale=args.guidance, generator=torch.Generator(device=device).manual_seed(42),
                       output_type="np",
                       callback_on_step_end=lambda p, i, t, kw: (stamps.append(time.perf_counter()), kw)[1])
            sync()
            times.append(time.perf_counter() - t0)
        reference = as_uint8(out.frames[0])
        plain_s = min(times)
        emit({**base, "variant": "plain", "steps": args.steps, "seconds_per_clip": round(plain_s, 3),
              "seconds_per_step": round(statistics.median(b - a for a, b in itertools.pairwise(stamps)), 4),
              "peak_gpu_gib": peak_gib()})
        del out
    del pipe
    free()

    def run_ours(variant: str, accel: Acceleration, extra: dict | None = None) -> None:
        renderer = DiffusersVideoRenderer(pipeline_path=str(path), acceleration=accel)
        t0 = time.perf_counter()
        renderer.pipeline()
        load_s = time.perf_counter() - t0
        times, steps = [], []
        first_s = None
        for i in range(args.repeats + (1 if accel.compile else 0)):  # a compiled run's first clip compiles
            stamps: list[float] = []
            peak_reset()
            t0 = time.perf_counter()

            def on_progress(step, total, phase, stamps=stamps, **_):
                if phase == "denoising":
                    stamps.append(time.perf_counter())

            clip = renderer.render(ctx(), on_progress, lambda: False)
            sync()
            elapsed = time.perf_counter() - t0
            if accel.compile and i == 0:
                first_s = elapsed
                continue
            times.append(elapsed)
            steps += [b - a for a, b in itertools.pairwise(stamps)]
        frames = as_uint8(clip.frames)
        psnr, ssim = psnr_ssim(frames, reference) if reference is not None else (None, None)
        best = min(times)
        row = {**base, "variant": variant, "steps": accel.steps, "guidance": accel.guidance_scale,
               "pipeline_load_s": round(load_s, 2), "seconds_per_clip": round(best, 3),
               "seconds_per_step": round(statistics.median(steps), 4) if steps else None,
               "ratio_over_plain": round(best / plain_s, 3) if plain_s else None, "peak_gpu_gib": peak_gib(),
               "psnr_vs_plain_db": psnr, "ssim_vs_plain": ssim, **(extra or {})}
        if first_s is not None:
            row["first_clip_with_compile_s"] = round(first_s, 2)
        if accel.compile:
            row.update(hotswap_recompiles(renderer))
        emit(row)
        free()

    def hotswap_recompiles(renderer) -> dict:
        """Render with persona LoRA A, then swap to B: did the swap compile any new graph?"""
        from torch._dynamo.utils import counters

        swap_steps = 2  # the question is recompilation, not speed: two steps show it
        renderer._acceleration = Acceleration(**{**renderer.acceleration.__dict__, "steps_full": swap_steps,
                                                 "steps_fast": swap_steps})
        renderer.render(ctx(loras[0], persona=11), lambda *a, **k: None, lambda: False)
        graphs_before = counters["stats"]["unique_graphs"]
        t0 = time.perf_counter()
        renderer.render(ctx(loras[1], persona=12), lambda *a, **k: None, lambda: False)
        sync()
        return {"hotswap_render_2_steps_s": round(time.perf_counter() - t0, 2),
                "graphs_compiled_on_lora_swap": counters["stats"]["unique_graphs"] - graphs_before,
                "hotswap_loads": renderer.adapters.loads}

    common = {"steps_full": args.steps, "guidance_full": args.guidance, "steps_fast": args.fast_steps,
              "guidance_fast": 1.0, "fast_lora_path": args.fast_lora}
    if "ours" in wanted:
        run_ours("ours", Acceleration(**common))
    if "fast" in wanted:
        run_ours("fast", Acceleration(**common, profile="fast"),
                 {"fast_lora": bool(args.fast_lora)})
    if "first_block" in wanted:
        for threshold in map(float, args.cache_threshold.split(",")):
            run_ours("first_block", Acceleration(**common, cache="first_block", cache_threshold=threshold),
                     {"cache_threshold": threshold})
    if "compile" in wanted:
        run_ours("compile", Acceleration(**common, compile=True, lora_max_rank=8))
    if "fast_compile" in wanted:
        run_ours("fast_compile", Acceleration(**common, profile="fast", compile=True, lora_max_rank=8),
                 {"fast_lora": bool(args.fast_lora)})


if __name__ == "__main__":
    main()
