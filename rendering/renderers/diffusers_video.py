"""GPU renderer: a diffusers text-to-video or image-to-video pipeline, loaded once per worker process.

The persona's identity LoRA goes through the AdapterCache; progress comes from
``callback_on_step_end``; a cancel raises from that callback; an out-of-memory
error frees the CUDA cache and is reported as transient so the job is retried
and the worker lives on.
"""

from __future__ import annotations

import gc
import inspect
import logging
import threading

import numpy as np
from django.conf import settings

from rendering.adapters import AdapterCache
from rendering.errors import RenderCancelled, RenderFailed, TransientRenderError
from rendering.previews import latents_rgb
from rendering.renderers.acceleration import Acceleration, accelerate
from rendering.renderers.base import CancelledFn, ProgressFn, RenderContext, RenderedClip, Renderer, preview_hook

log = logging.getLogger(__name__)


def prompt_for(ctx: RenderContext, *, with_trigger: bool) -> str:
    beat = ctx.beat
    prompt = beat.prompt.strip() or ", ".join(
        p for p in (beat.action, beat.setting, f"{beat.camera.value.replace('_', ' ')} shot",
                    f"{beat.framing.value.replace('_', ' ')}", f"{beat.lighting.value.replace('_', ' ')} lighting",
                    beat.mood, *ctx.style_tags) if p
    )
    trigger = ctx.lora_trigger.strip()
    if with_trigger and trigger and trigger.lower() not in prompt.lower():
        prompt = f"{trigger}, {prompt}"
    return prompt


def wan_frame_count(frames: int) -> int:
    """Wan/LTX-style VAEs compress time by 4: frame counts are 4k + 1 (rounded up: 5 s at 16 fps -> 81)."""
    return max(1, -(-(frames - 1) // 4)) * 4 + 1


class DiffusersVideoRenderer(Renderer):
    name = "diffusers"

    def __init__(self, pipeline_path: str | None = None, acceleration: Acceleration | None = None) -> None:
        self.pipeline_path = pipeline_path or settings.RENDER_PIPELINE_PATH
        self._acceleration = acceleration
        self._pipe = None
        self.adapters: AdapterCache | None = None
        self._lock = threading.Lock()

    @property
    def acceleration(self) -> Acceleration:
        """The one given, or the worker's settings (read when used: tests and a reloaded config see changes)."""
        return self._acceleration or Acceleration.from_settings()

    @property
    def device(self) -> str:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def pipeline(self):
        """Load once per process; later calls return the same object."""
        with self._lock:
            if self._pipe is None:
                import torch
                from diffusers import DiffusionPipeline

                if not self.pipeline_path:
                    raise RenderFailed("No video model is configured on this worker (RENDER_PIPELINE_PATH).")
                dtype = getattr(torch, settings.RENDER_TORCH_DTYPE) if self.device == "cuda" else torch.float32
                pipe = DiffusionPipeline.from_pretrained(self.pipeline_path, dtype=dtype)
                pipe.to(self.device)
                pipe.set_progress_bar_config(disable=True)
                accel = self.acceleration
                accelerate(pipe, accel)
                self._pipe = pipe
                self.adapters = AdapterCache(pipe, settings.RENDER_LORA_CACHE_SIZE, hotswap=accel.compile,
                                             always_on=accel.always_on_adapters)
                log.info("loaded %s from %s on %s", type(pipe).__name__, self.pipeline_path, self.device)
            return self._pipe

    @staticmethod
    def starts_from_image(pipe) -> bool:
        """Image-to-video pipelines take the first frame (a portrait, or a Continue's last frame) as ``image``."""
        return "ImageToVideo" in type(pipe).__name__

    def call_kwargs(self, pipe, ctx: RenderContext, on_progress: ProgressFn, is_cancelled: CancelledFn) -> dict:
        import torch

        steps = self.acceleration.steps
        lora = self.adapters.active is not None if self.adapters else False
        preview = preview_hook(on_progress)

        def on_step_end(pipeline, step: int, timestep, callback_kwargs: dict) -> dict:
            latents = callback_kwargs.get("latents")
            # a linear projection of the latents, made only when a preview is due (no VAE decode)
            shown = latents is not None and preview(step + 1, steps, "denoising", lambda: latents_rgb(latents))
            if not shown:
                on_progress(step + 1, steps, "denoising")
            if is_cancelled():
                pipeline._interrupt = True
                raise RenderCancelled()
            return callback_kwargs

        kwargs = {
            "prompt": prompt_for(ctx, with_trigger=lora),
            "negative_prompt": ctx.beat.negative_prompt or None,
            "height": ctx.height // 16 * 16,
            "width": ctx.width // 16 * 16,
            "num_frames": wan_frame_count(ctx.frame_count),
            "num_inference_steps": steps,
            "guidance_scale": self.acceleration.guidance_scale,
            "generator": torch.Generator(device=self.device).manual_seed(ctx.beat.seed),
            "output_type": "np",
            "callback_on_step_end": on_step_end,
        }
        if self.starts_from_image(pipe):
            from PIL import Image, ImageOps

            size = (kwargs["width"], kwargs["height"])
            if ctx.start_frame is not None:  # a Continue: the next shot starts where the last one ended
                kwargs["image"] = ImageOps.fit(Image.fromarray(ctx.start_frame).convert("RGB"), size)
            elif not ctx.portrait_path:
                raise RenderFailed("This video model animates a portrait, and the persona has none.")
            else:
                with Image.open(ctx.portrait_path) as img:
                    kwargs["image"] = ImageOps.fit(img.convert("RGB"), size)
        accepted = inspect.signature(pipe.__call__).parameters
        return {k: v for k, v in kwargs.items() if k in accepted}

    def render(self, job_context: RenderContext, on_progress: ProgressFn, is_cancelled: CancelledFn) -> RenderedClip:
        import torch

        ctx = job_context
        pipe = self.pipeline()
        on_progress(0, self.acceleration.steps, "loading adapter")
        try:
            self.adapters.activate(path=ctx.lora_path, persona_id=ctx.persona_id, weight=ctx.lora_weight)
            with torch.inference_mode():
                output = pipe(**self.call_kwargs(pipe, ctx, on_progress, is_cancelled))
        except torch.OutOfMemoryError as exc:
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            raise TransientRenderError("the GPU ran out of memory") from exc
        finally:
            pipe._interrupt = False
        video = np.asarray(output.frames[0])
        if video.dtype != np.uint8:
            video = (np.clip(video, 0.0, 1.0) * 255).round().astype(np.uint8)
        return RenderedClip(frames=video, fps=ctx.fps, frame_count=len(video),
                            from_start_frame=ctx.start_frame is not None and self.starts_from_image(pipe))
