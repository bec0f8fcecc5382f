"""The renderer interface: a beat and a persona in, frames out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from rendering.beat import SceneBeat

# on_progress(step, total, phase); is_cancelled() -> bool
ProgressFn = Callable[[int, int, str], None]
CancelledFn = Callable[[], bool]


@dataclass(frozen=True)
class RenderContext:
    """Everything a renderer needs, read from the job and persona up front (renderers never touch the DB)."""

    job_id: str
    beat: SceneBeat
    persona_id: int
    persona_name: str
    persona_appearance: str = ""
    portrait_path: str | None = None  # local file path of the persona's portrait
    lora_path: str | None = None  # local .safetensors of the persona's video LoRA
    lora_weight: float = 1.0
    lora_trigger: str = ""
    width: int = 854
    height: int = 480
    fps: int = 16
    style_tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def frame_count(self) -> int:
        return max(1, round(self.beat.duration_s * self.fps))


@dataclass
class RenderedClip:
    """Frames as a (T, H, W, 3) uint8 array or an iterator of (H, W, 3) arrays (consumed once, by the encoder)."""

    frames: np.ndarray | Iterable[np.ndarray]
    fps: int
    frame_count: int
    poster: np.ndarray | None = None  # default: a frame a third of the way in


class Renderer(ABC):
    name: str = "base"

    @abstractmethod
    def render(self, job_context: RenderContext, on_progress: ProgressFn, is_cancelled: CancelledFn) -> RenderedClip:
        """Render the beat; call on_progress per frame/step and raise RenderCancelled when is_cancelled()."""
