"""Procedural, stylised portraits drawn by our own code (no third-party art).

A seed picks the palette and small variations, so the same seed always gives
byte-identical PNG output. Used for the demo persona and as the card image
when a persona has no portrait of its own.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# (sky top, sky bottom, skin, hair, coat) palettes: dusk over a northern sea
_PALETTES = [
    ((28, 36, 74), (233, 150, 112), (226, 186, 158), (92, 48, 34), (38, 70, 92)),
    ((18, 52, 86), (244, 196, 132), (198, 150, 118), (40, 30, 28), (120, 54, 48)),
    ((46, 30, 72), (250, 168, 150), (236, 200, 172), (170, 96, 52), (44, 86, 70)),
    ((12, 28, 48), (120, 170, 190), (160, 116, 90), (24, 20, 22), (150, 120, 60)),
]


def draw_portrait(seed: str, size: int = 512) -> bytes:
    """A size x size PNG of a stylised head-and-shoulders silhouette against a dusk sky."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "little"))
    sky_top, sky_bottom, skin, hair, coat = _PALETTES[int(rng.integers(len(_PALETTES)))]
    img = Image.fromarray(_sky(size, sky_top, sky_bottom, rng), "RGB")
    draw = ImageDraw.Draw(img)
    s = size / 512  # every coordinate below is laid out on a 512 grid

    def box(x0: float, y0: float, x1: float, y1: float) -> list[float]:
        return [x0 * s, y0 * s, x1 * s, y1 * s]

    # distant lighthouse on a headland, with its beam
    draw.polygon([(0, 400 * s), (150 * s, 360 * s), (200 * s, 400 * s)], fill=_shade(sky_top, 0.6))
    draw.polygon([(60 * s, 372 * s), (74 * s, 250 * s), (88 * s, 250 * s), (100 * s, 372 * s)], fill=(236, 232, 220))
    draw.rectangle(box(70, 238, 92, 252), fill=(255, 226, 140))
    draw.polygon([(81 * s, 245 * s), (0, 205 * s), (0, 275 * s)], fill=_blend(sky_bottom, (255, 240, 190), 0.45))
    # sea
    draw.rectangle(box(0, 400, 512, 512), fill=_shade(sky_top, 0.8))
    for i in range(6):
        y = 410 + i * 16 + float(rng.uniform(-3, 3))
        draw.line([(0, y * s), (512 * s, (y + 4) * s)], fill=_blend(sky_bottom, sky_top, 0.7), width=max(1, int(2 * s)))

    # the figure: coat, neck, hair behind, face, hair fringe
    tilt = float(rng.uniform(-8, 8))
    draw.ellipse(box(126, 360, 386, 620), fill=coat)
    draw.polygon([(206 * s, 372 * s), (256 * s, 440 * s), (306 * s, 372 * s)], fill=_shade(coat, 0.7))
    draw.rectangle(box(232, 290, 280, 380), fill=_shade(skin, 0.85))
    draw.ellipse(box(170 + tilt, 120, 342 + tilt, 330), fill=hair)
    draw.rectangle(box(176 + tilt, 220, 336 + tilt, 380), fill=hair)
    draw.ellipse(box(192 + tilt, 148, 320 + tilt, 312), fill=skin)
    draw.chord(box(182 + tilt, 118, 330 + tilt, 250), 180, 360, fill=hair)
    # soft features: eyes and a mouth hint
    eye_y = 228 + float(rng.uniform(-4, 4))
    for ex in (228, 284):
        draw.ellipse(box(ex - 7 + tilt, eye_y - 4, ex + 7 + tilt, eye_y + 4), fill=_shade(hair, 0.6))
    draw.arc(box(238 + tilt, 262, 274 + tilt, 284), 20, 160, fill=_shade(skin, 0.6), width=max(1, int(3 * s)))

    img = img.filter(ImageFilter.GaussianBlur(radius=0.8 * s))
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _sky(size: int, top: tuple[int, int, int], bottom: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    t = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    grad = np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t
    sky = np.broadcast_to(grad, (size, size, 3)).copy()
    # a few stars in the upper sky
    for _ in range(40):
        y, x = int(rng.integers(0, size // 3)), int(rng.integers(0, size))
        sky[y, x] = 255
    return np.clip(sky, 0, 255).astype(np.uint8)


def _shade(rgb: tuple[int, int, int], k: float) -> tuple[int, int, int]:
    return tuple(int(c * k) for c in rgb)  # type: ignore[return-value]


def _blend(a: tuple[int, int, int], b: tuple[int, int, int], k: float) -> tuple[int, int, int]:
    return tuple(int(x * (1 - k) + y * k) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]
