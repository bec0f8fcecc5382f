"""The real previz renderer, held mid-render while a file exists, for the browser tests.

``manage.py serve`` in tests/evolve/test_browser.py runs with
RENDERER=tests.evolve.gated_renderer.GatedPrevizRenderer and EVOLVE_RENDER_HOLD=<path>.
While <path> exists, a render pauses after its first frames (the job stays "running" with
progress step/total recorded), so a test can reload the page or drop the socket at a
known point instead of racing a fast renderer; removing the file lets it finish. While
<path>.slow exists, every frame takes PACE_S longer (a render long enough to send several
live previews). With neither file it is exactly PrevizRenderer.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from rendering.renderers.base import CancelledFn, ProgressFn, RenderContext, RenderedClip, preview_hook
from rendering.renderers.previz import PrevizRenderer

HOLD_AT_STEP = 2
HOLD_MAX_S = 120.0  # never hang a worker thread forever if a test forgets the file
PACE_S = 0.08


class GatedPrevizRenderer(PrevizRenderer):
    name = "previz-gated"

    def render(self, job_context: RenderContext, on_progress: ProgressFn, is_cancelled: CancelledFn) -> RenderedClip:
        hold = os.environ.get("EVOLVE_RENDER_HOLD")

        send_preview = preview_hook(on_progress)

        def wait(step: int, total: int) -> None:
            if hold and Path(f"{hold}.slow").exists():
                time.sleep(PACE_S)
            if not hold or step != min(HOLD_AT_STEP, total):
                return
            deadline = time.monotonic() + HOLD_MAX_S
            while Path(hold).exists() and not is_cancelled() and time.monotonic() < deadline:
                time.sleep(0.1)

        def progress(step: int, total: int, phase: str) -> None:
            on_progress(step, total, phase)
            wait(step, total)

        def preview(step: int, total: int, phase: str, make) -> bool:
            # the live previews pass through (a frame that sent one does not call progress)
            sent = send_preview(step, total, phase, make)
            if sent:
                wait(step, total)
            return sent

        progress.preview = preview  # type: ignore[attr-defined]
        return super().render(job_context, progress, is_cancelled)
