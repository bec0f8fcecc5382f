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
# preview(step, total, phase, make): make() draws a (H, W, 3) uint8 picture, called only when one is due
PreviewFn = Callable[[int, int, str, Callable[[], "np.ndarray | None"]], bool]


def preview_hook(on_progress: ProgressFn) -> PreviewFn:
    """The live-preview hook that comes with ``on_progress`` (the worker's ProgressReporter has one,
    rendering.previews); a plain progress function gets a hook that sends nothing."""
    hook = getattr(on_progress, "preview", None)
    return hook if callable(hook) else (lambda step, total, phase, make: False)


@dataclass(frozen=True)
class CastMember:
    """Another persona in the shot besides the job's persona."""

    persona_id: int
    name: str
    lora_path: str | None = None
    lora_weight: float = 1.0
    lora_trigger: str = ""


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
    # The other personas in the shot (a group scene), each with its own LoRA if it has one; a renderer
    # with ``supports_multi_lora`` applies them, any other applies the job persona's LoRA only.
    cast: tuple[CastMember, ...] = field(default_factory=tuple)
    # A Continue: the last frame of the clip this one continues, (H, W, 3) uint8 at this clip's size.
    start_frame: np.ndarray | None = field(default=None, compare=False, repr=False)

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
    # True when the renderer itself began from ctx.start_frame (image-to-video); otherwise the
    # pipeline fades in from it (rendering.continuity)
    from_start_frame: bool = False


class Renderer(ABC):
    name: str = "base"
    # Can it apply several personas' LoRAs in one clip (RenderContext.cast)? None of ours can yet.
    supports_multi_lora: bool = False

    @abstractmethod
    def render(self, job_context: RenderContext, on_progress: ProgressFn, is_cancelled: CancelledFn) -> RenderedClip:
        """Render the beat; call on_progress per frame/step and raise RenderCancelled when is_cancelled()."""
