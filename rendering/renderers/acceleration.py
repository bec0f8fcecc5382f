"""Speed-ups a render worker can turn on; each is measured against plain diffusers in bench/render_gpu.py.

All off (the default) is plain diffusers, so nobody trades quality for speed
without choosing to. bench/README records speed and per-frame PSNR/SSIM of each.

- ``RENDER_CACHE=first_block``: diffusers' First Block Cache hook. When the first
  transformer block's residual changes less than ``RENDER_CACHE_THRESHOLD`` from
  the last step, the other blocks are skipped and their cached residual reused.
- ``RENDER_COMPILE=1``: ``torch.compile`` of the transformer's repeated blocks
  (regional compilation: one block compiled, not thirty). Persona LoRAs are then
  swapped in place with diffusers' LoRA hotswap (``enable_lora_hotswap``), so a
  persona change does not recompile; see ``rendering.adapters``.
- ``RENDER_PROFILE=fast``: ``RENDER_FAST_STEPS`` steps with guidance off, plus a
  step-distilled LoRA (``RENDER_FAST_LORA_PATH``) kept on next to the persona's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings

log = logging.getLogger(__name__)

FAST_ADAPTER = "fast_profile"
CACHES = ("", "first_block")
PROFILES = ("full", "fast")


@dataclass(frozen=True)
class Acceleration:
    cache: str = ""
    cache_threshold: float = 0.05
    compile: bool = False
    profile: str = "full"
    steps_full: int = 30
    guidance_full: float = 5.0
    steps_fast: int = 4
    guidance_fast: float = 1.0
    fast_lora_path: str = ""
    lora_max_rank: int = 64

    def __post_init__(self) -> None:
        # a typo in a worker's environment should stop it at start, not render slowly in silence
        if self.cache not in CACHES:
            raise ValueError(f"RENDER_CACHE must be one of {CACHES}, not {self.cache!r}")
        if self.profile not in PROFILES:
            raise ValueError(f"RENDER_PROFILE must be one of {PROFILES}, not {self.profile!r}")

    @classmethod
    def from_settings(cls) -> Acceleration:
        return cls(
            cache=settings.RENDER_CACHE,
            cache_threshold=settings.RENDER_CACHE_THRESHOLD,
            compile=settings.RENDER_COMPILE,
            profile=settings.RENDER_PROFILE,
            steps_full=settings.RENDER_STEPS,
            guidance_full=settings.RENDER_GUIDANCE_SCALE,
            steps_fast=settings.RENDER_FAST_STEPS,
            guidance_fast=settings.RENDER_FAST_GUIDANCE_SCALE,
            fast_lora_path=settings.RENDER_FAST_LORA_PATH,
            lora_max_rank=settings.RENDER_LORA_MAX_RANK,
        )

    @property
    def fast(self) -> bool:
        return self.profile == "fast"

    @property
    def steps(self) -> int:
        return self.steps_fast if self.fast else self.steps_full

    @property
    def guidance_scale(self) -> float:
        return self.guidance_fast if self.fast else self.guidance_full

    @property
    def always_on_adapters(self) -> dict[str, float]:
        """Adapters active on every render next to the persona's (the fast profile's distilled LoRA)."""
        return {FAST_ADAPTER: 1.0} if self.fast and self.fast_lora_path else {}


def accelerate(pipe, accel: Acceleration) -> None:
    """Apply ``accel`` to a freshly loaded pipeline, once, before its first render."""
    if accel.compile:
        # before any LoRA is loaded: pads every adapter to one rank so later swaps replace weights in place
        pipe.enable_lora_hotswap(target_rank=accel.lora_max_rank, check_compiled="ignore")
    if accel.fast and accel.fast_lora_path:
        pipe.load_lora_weights(accel.fast_lora_path, adapter_name=FAST_ADAPTER)
        pipe.set_adapters([FAST_ADAPTER], adapter_weights=[1.0])
    if accel.cache == "first_block":
        from diffusers.hooks import FirstBlockCacheConfig

        pipe.transformer.enable_cache(FirstBlockCacheConfig(threshold=accel.cache_threshold))
    if accel.compile:
        # the cache hook decides per step whether to run the blocks: data-dependent, so no full graph then
        pipe.transformer.compile_repeated_blocks(fullgraph=not accel.cache)
    log.info("render acceleration: cache=%s threshold=%s compile=%s profile=%s (%d steps, guidance %s)",
             accel.cache or "off", accel.cache_threshold, accel.compile, accel.profile, accel.steps,
             accel.guidance_scale)
