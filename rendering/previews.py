"""Live previews: a small JPEG of the clip as it forms, sent with the job's progress.

Renderers hand ``ProgressReporter.preview`` a *function* that makes the frame, so
nothing is drawn or encoded between the at-most-two previews a second a job sends
(``PREVIEW_MIN_INTERVAL_S``). The previz hands the frame it just drew; the
diffusers renderer a linear latent->RGB projection of the current latents
(``latents_rgb``: no VAE decode, a few milliseconds).

Size decides the transport: a 160 px wide JPEG at quality 70 is 2-6 KB, 3-8 KB as
base64, so it rides inside ``render.progress`` as a data URL (one frame on the
socket the progress already uses, no second request, nothing to authorise again;
well under the 64 KiB WEBSOCKET_MAX_FRAME_BYTES we hold clients to, and a few KB/s
per job through the channel layer). The latest one is also kept in the shared
cache for ``preview_get`` (the owner-only /clips/<id>/preview.jpg, for REST
clients and a page that reloads mid-render); it goes when the job finishes.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
from django.core.cache import cache
from PIL import Image

PREVIEW_WIDTH = 160
PREVIEW_QUALITY = 70
PREVIEW_MIN_INTERVAL_S = 0.5  # at most ~2 previews a second per job
PREVIEW_TTL_S = 15 * 60  # a preview outlives a worker that died mid-render by this much at most

# Wan 2.1 latent space (16 channels, the normalised latents the sampler works on) -> RGB in [-1, 1]:
# the linear fit ComfyUI uses for its fast previews (comfy/latent_formats.py, Wan21.latent_rgb_factors).
WAN21_RGB_FACTORS = (
    (-0.1299, -0.1692, 0.2932), (0.0671, 0.0406, 0.0442), (0.3568, 0.2548, 0.1747), (0.0372, 0.2344, 0.1420),
    (0.0313, 0.0189, -0.0328), (0.0296, -0.0956, -0.0665), (-0.3477, -0.4059, -0.2925), (0.0166, 0.1902, 0.1975),
    (-0.0412, 0.0267, -0.1364), (-0.1293, 0.0740, 0.1636), (0.0680, 0.3019, 0.1128), (0.0032, 0.0581, 0.0639),
    (-0.1251, 0.0927, 0.1699), (0.0060, -0.0633, 0.0005), (0.3477, 0.2275, 0.2950), (0.1984, 0.0913, 0.1861),
)
WAN21_RGB_BIAS = (-0.1835, -0.0868, -0.3360)


@dataclass(frozen=True)
class Preview:
    """One encoded preview: JPEG bytes and the size they decode to."""

    jpeg: bytes
    width: int
    height: int
    step: int = 0

    @property
    def data_url(self) -> str:
        return "data:image/jpeg;base64," + base64.b64encode(self.jpeg).decode("ascii")


def preview_encode(frame: np.ndarray, *, step: int = 0, width: int = PREVIEW_WIDTH) -> Preview:
    """A (H, W, 3) uint8 frame as a ``width``-wide JPEG (aspect kept)."""
    img = Image.fromarray(np.ascontiguousarray(frame[..., :3], dtype=np.uint8))
    height = max(1, round(img.height * width / img.width))
    img = img.resize((width, height), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=PREVIEW_QUALITY)
    return Preview(jpeg=buf.getvalue(), width=width, height=height, step=step)


def latents_rgb(latents) -> np.ndarray:
    """The middle latent frame of video latents (B, C, T, H, W) as a (H, W, 3) uint8 picture.

    16 channels: the Wan 2.1 projection; any other latent space: its first three channels
    stretched to their range (a rough shape of the scene, honest about being rough).
    """
    import torch

    lat = latents.detach()[0].float()  # (C, T, H, W)
    lat = lat[:, lat.shape[1] // 2] if lat.ndim == 4 else lat  # (C, H, W)
    if lat.shape[0] == len(WAN21_RGB_FACTORS):
        factors = torch.tensor(WAN21_RGB_FACTORS, dtype=lat.dtype, device=lat.device)
        bias = torch.tensor(WAN21_RGB_BIAS, dtype=lat.dtype, device=lat.device)
        rgb = torch.einsum("chw,cr->hwr", lat, factors) + bias
        rgb = (rgb.clamp(-1, 1) + 1) / 2
    else:
        rgb = lat[:3].permute(1, 2, 0)
        lo, hi = rgb.amin(dim=(0, 1)), rgb.amax(dim=(0, 1))
        rgb = (rgb - lo) / (hi - lo).clamp_min(1e-6)
    return (rgb * 255).round().to(torch.uint8).cpu().numpy()


def _key(job_id: str) -> str:
    return f"render-preview:{job_id}"


def preview_store(*, job_id: str, preview: Preview) -> None:
    cache.set(_key(job_id), preview.jpeg, PREVIEW_TTL_S)


def preview_get(*, job_id: str) -> bytes | None:
    """The latest preview JPEG of a running job (None once it finished, or before the first)."""
    return cache.get(_key(job_id))


def preview_drop(*, job_id: str) -> None:
    cache.delete(_key(job_id))
