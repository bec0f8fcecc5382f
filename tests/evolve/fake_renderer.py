"""A tiny, controllable renderer for the loop tests (the real worker, pipeline, encoder and label run around it).

``FakeRenderer.mode`` is set by a test: "ok", "transient" (TransientRenderError
mid-clip, every attempt), "crash" (a plain exception mid-clip) or "slow"
(sleeps per frame so a cancel can land mid-render).
"""

from __future__ import annotations

import threading
import time

import numpy as np

from rendering.errors import RenderCancelled, TransientRenderError
from rendering.renderers.base import RenderContext, RenderedClip, Renderer


class FakeRenderer(Renderer):
    name = "fake"
    mode = "ok"
    started = threading.Event()
    attempts = 0

    def render(self, ctx: RenderContext, on_progress, is_cancelled) -> RenderedClip:
        cls = type(self)
        cls.attempts += 1
        cls.started.set()
        total = ctx.frame_count
        frames = []
        for i in range(total):
            if is_cancelled():
                raise RenderCancelled()
            if i == total // 2 and cls.mode == "transient":
                raise TransientRenderError("GPU out of memory (simulated)")
            if i == total // 2 and cls.mode == "crash":
                raise RuntimeError("renderer exploded (simulated)")
            if cls.mode == "slow":
                time.sleep(0.05)
            shade = int(255 * i / max(1, total - 1))
            frames.append(np.full((ctx.height, ctx.width, 3), (shade, 80, 255 - shade), dtype=np.uint8))
            on_progress(i + 1, total, "rendering")
        return RenderedClip(frames=np.stack(frames), fps=ctx.fps, frame_count=total)
