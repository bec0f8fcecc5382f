"""Renderers that fail on purpose, wrapping the real previz (selected through settings.RENDERER as dotted paths)."""

from __future__ import annotations

import time

from rendering.errors import TransientRenderError
from rendering.renderers.previz import PrevizRenderer


class CrashingRenderer(PrevizRenderer):
    """Raises a plain bug-like error in the middle of the frames."""

    calls = 0

    def render(self, job_context, on_progress, is_cancelled):
        type(self).calls += 1
        clip = super().render(job_context, on_progress, is_cancelled)
        inner = clip.frames

        def frames():
            for i, frame in enumerate(inner):
                if i == 3:
                    raise ValueError("tensor shape mismatch in frame 3")
                yield frame

        clip.frames = frames()
        return clip


class FlakyRenderer(PrevizRenderer):
    """Transient failure on the first ``failures`` attempts, then renders normally."""

    calls = 0
    failures = 1

    def render(self, job_context, on_progress, is_cancelled):
        type(self).calls += 1
        if type(self).calls <= type(self).failures:
            raise TransientRenderError("the GPU ran out of memory")
        return super().render(job_context, on_progress, is_cancelled)


class SlowRenderer(PrevizRenderer):
    """Previz at a walking pace, so a test can cancel it mid-render."""

    def render(self, job_context, on_progress, is_cancelled):
        clip = super().render(job_context, on_progress, is_cancelled)
        inner = clip.frames

        def frames():
            for frame in inner:
                time.sleep(0.05)
                yield frame

        clip.frames = frames()
        return clip
