"""The persona as a figure cut from its portrait (or a drawn stand-in when it has none).

A portrait with real transparency is used as it is. Otherwise the background
is found the way a person would: colours along the top and the sides (above
the shoulders) make a palette, and a per-row model of the two sides covers a
gradient sky; everything connected to the border through background-like
pixels is background. What is left, kept to the piece that holds the centre
of the lower half (the bust), is the figure; its mask is cleaned, feathered and
scaled up. Found once per portrait file (cached by path, size and mtime) on a
small copy, so it costs nothing per render after the first.

The face box (fractions of the figure's box) is read from the mask's shape:
the head is everything above the narrowest row (the neck) under its widest part.
"""

from __future__ import annotations

import functools
import os
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

WORK_SIZE = 160  # the matte is found on a copy this big (longest side)
STEP_DISTANCE = 14.0  # RGB distance under which two palette colours are the same colour
PRIOR_WEIGHT = 36.0  # how far (in RGB distance) the head-and-shoulders prior tips a pixel
MIN_AREA, MAX_AREA = 0.06, 0.9  # a plausible figure covers this share of the portrait


@dataclass(frozen=True)
class Figure:
    """The figure as an RGBA image cropped to its box, and its face box in fractions of that image."""

    image: Image.Image
    face: tuple[float, float, float, float]  # (left, top, right, bottom) in 0..1 of image
    from_portrait: bool


def figure_for(portrait_path: str | None, *, height: int, seed: int, tone: tuple[int, int, int]) -> Figure:
    """The figure scaled to ``height`` pixels (its box), from the portrait or drawn."""
    if portrait_path and os.path.exists(portrait_path):
        stat = os.stat(portrait_path)
        try:
            rgba, face = _cutout(portrait_path, stat.st_size, stat.st_mtime_ns)
        except (OSError, ValueError):
            rgba, face = None, None
        if rgba is not None:
            width = max(1, round(rgba.width * height / rgba.height))
            return Figure(_fade_bottom(rgba.resize((width, height), Image.Resampling.LANCZOS)), face, True)
    return Figure(_stand_in(height, seed, tone), (0.3, 0.04, 0.7, 0.46), False)


@functools.lru_cache(maxsize=16)
def _cutout(path: str, size: int, mtime_ns: int) -> tuple[Image.Image, tuple[float, float, float, float]]:
    """(RGBA figure cropped to its box at the portrait's resolution, face box) for one portrait file."""
    with Image.open(path) as src:
        img = ImageOps.exif_transpose(src)
        img.load()
    has_alpha = img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info)
    rgba = img.convert("RGBA")
    alpha = np.asarray(rgba.getchannel("A"))
    if has_alpha and (alpha < 250).mean() > 0.05:
        mask = Image.fromarray(alpha, "L")
    else:
        mask = _matte(rgba.convert("RGB"))
    rgba.putalpha(mask)
    box = mask.point(lambda v: 255 if v > 40 else 0).getbbox() or (0, 0, *rgba.size)
    figure = rgba.crop(box)
    return figure, face_box(np.asarray(figure.getchannel("A")) > 40)


def _matte(rgb: Image.Image) -> Image.Image:
    """A soft figure mask for an opaque portrait (see the module docstring)."""
    w, h = rgb.size
    scale = WORK_SIZE / max(w, h)
    small = rgb.resize((max(8, round(w * scale)), max(8, round(h * scale))), Image.Resampling.BOX)
    a = np.asarray(small, np.float32)
    sh, sw = a.shape[:2]
    pixels = a.reshape(-1, 3)
    prior = _prior(sw, sh)
    b = max(1, sw // 40)
    border = np.concatenate([a[:b].reshape(-1, 3), a[:, :b].reshape(-1, 3), a[:, -b:].reshape(-1, 3)])
    border_palette = _palette(border, k=12)
    # per row, the colour of the two sides interpolated across: a gradient sky or a horizon behind the head
    left, right = np.median(a[:, :b], axis=1), np.median(a[:, -b:], axis=1)
    t = np.linspace(0, 1, sw, dtype=np.float32)[None, :, None]
    d_row = np.linalg.norm(a - (left[:, None] * (1 - t) + right[:, None] * t), axis=2)
    d_row[int(sh * 0.62):] = np.inf  # lower down, shoulders may reach the sides
    figure = prior > 0.75
    background = prior < 0.08
    for _ in range(3):
        bg_palette = np.concatenate([border_palette, _palette(pixels[background.ravel()], k=6)])
        fg_palette = _palette(pixels[figure.ravel()], k=8)
        # a colour seen along the border is background unless the shape prior insists
        shared = np.min(np.linalg.norm(fg_palette[:, None] - border_palette[None], axis=2), axis=1) < STEP_DISTANCE
        if (~shared).any():
            fg_palette = fg_palette[~shared]
        d_bg = np.min(np.linalg.norm(a[:, :, None] - bg_palette[None, None], axis=3), axis=2)
        d_bg = np.minimum(d_bg, d_row)
        d_fg = np.min(np.linalg.norm(a[:, :, None] - fg_palette[None, None], axis=3), axis=2)
        figure = (d_bg - d_fg + PRIOR_WEIGHT * (prior - 0.5)) > 0
        background = ~figure
    figure = _open_close(figure)
    core = np.zeros_like(figure)
    core[int(sh * 0.6):, int(sw * 0.4):int(sw * 0.6)] = True
    core[int(sh * 0.3):int(sh * 0.45), int(sw * 0.42):int(sw * 0.58)] = True
    figure = _reconstruct(figure & core, figure)
    border = np.zeros_like(figure)
    border[0, :] = border[:, 0] = border[:, -1] = True
    figure |= ~_reconstruct(border & ~figure, ~figure)  # holes inside the figure are figure
    area = figure.mean()
    if not MIN_AREA <= area <= MAX_AREA:
        figure = prior > 0.5
    mask = Image.fromarray((figure * 255).astype(np.uint8), "L").resize((w, h), Image.Resampling.BILINEAR)
    return mask.filter(ImageFilter.GaussianBlur(max(1.0, max(w, h) / 300))).point(
        lambda v: 0 if v < 60 else (255 if v > 190 else int((v - 60) * 255 / 130))
    )


def _prior(w: int, h: int) -> np.ndarray:
    """How likely each pixel is the figure, from where portraits put heads and shoulders."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    x, y = x / max(1, w - 1), y / max(1, h - 1)
    head = ((x - 0.5) / 0.2) ** 2 + ((y - 0.38) / 0.26) ** 2
    body = ((x - 0.5) / 0.42) ** 2 + ((y - 1.05) / 0.4) ** 2
    inside = np.minimum(head, body)
    prior = np.clip(1.6 - inside, 0, 1)
    edge = np.minimum(np.minimum(x, 1 - x), y) * 12  # near the top and side edges: background
    return np.clip(np.minimum(prior, edge), 0, 1)


def _palette(pixels: np.ndarray, k: int) -> np.ndarray:
    """A few representative colours of ``pixels`` (k-means, deterministic start)."""
    pixels = pixels[:: max(1, len(pixels) // 2000)]
    centres = pixels[np.linspace(0, len(pixels) - 1, k).astype(int)].copy()
    for _ in range(8):
        labels = np.argmin(np.linalg.norm(pixels[:, None] - centres[None], axis=2), axis=1)
        for j in range(k):
            members = pixels[labels == j]
            if len(members):
                centres[j] = members.mean(axis=0)
    return centres


def _dilate(mask: np.ndarray) -> np.ndarray:
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    return out


def _erode(mask: np.ndarray) -> np.ndarray:
    return ~_dilate(~mask)


def _reconstruct(seed: np.ndarray, within: np.ndarray) -> np.ndarray:
    """Everything in ``within`` connected (4-neighbourhood) to ``seed``."""
    current = seed & within
    for _ in range(within.size):
        grown = _dilate(current) & within
        if np.array_equal(grown, current):
            return current
        current = grown
    return current


def _open_close(mask: np.ndarray) -> np.ndarray:
    opened = _dilate(_erode(mask))
    return _erode(_dilate(opened))


def face_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """The head's box in fractions of the mask: above the neck (narrowest row under the widest head row)."""
    h, w = mask.shape
    if h < 8 or not mask.any():
        return (0.3, 0.04, 0.7, 0.46)
    widths = mask.sum(axis=1).astype(float)
    top = int(np.argmax(widths > 0))
    span = h - top
    head_rows = slice(top + int(span * 0.1), top + int(span * 0.55))
    widest = head_rows.start + int(np.argmax(widths[head_rows]))
    search = slice(widest, top + int(span * 0.8))
    neck = search.start + int(np.argmin(widths[search])) if search.stop > search.start else top + int(span * 0.5)
    if widths[neck] > 0.85 * widths[widest]:  # no neck to see (hair down to the shoulders)
        neck = top + int(span * 0.5)
    cols = np.nonzero(mask[top:neck].any(axis=0))[0]
    left, right = (cols.min(), cols.max()) if len(cols) else (int(w * 0.3), int(w * 0.7))
    return (left / w, top / h, (right + 1) / w, neck / h)


def _fade_bottom(img: Image.Image, share: float = 0.14) -> Image.Image:
    """The cut edge at the bottom of a bust fades out instead of ending in a line (seen through a rail)."""
    h = img.height
    ramp = np.ones(h, np.float32)
    n = max(1, int(h * share))
    ramp[h - n:] = np.linspace(1.0, 0.0, n, dtype=np.float32)
    alpha = np.asarray(img.getchannel("A"), np.float32) * ramp[:, None]
    out = img.copy()
    out.putalpha(Image.fromarray(alpha.astype(np.uint8), "L"))
    return out


def _stand_in(height: int, seed: int, tone: tuple[int, int, int]) -> Image.Image:
    """A soft head-and-shoulders silhouette with a rim light, for personas without a portrait."""
    rng = np.random.default_rng(zlib.crc32(f"{seed}|figure".encode()))
    width = int(height * 0.78)
    img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    body = tuple(int(c * 0.35) + 20 for c in tone)
    rim = tuple(min(255, int(c * 0.8) + 60) for c in tone)
    head_w = width * float(rng.uniform(0.34, 0.4))
    cx, head_top = width / 2, height * 0.04
    head_bottom = head_top + head_w * 1.3
    shoulders = [(width * 0.02, height), (width * 0.14, height * 0.56), (width * 0.86, height * 0.56),
                 (width * 0.98, height)]
    for grow, colour in ((max(2, height // 120), rim), (0, body)):
        draw.polygon([(x + (grow if x > cx else -grow), y - grow) for x, y in shoulders], fill=(*colour, 255))
        draw.rectangle((cx - head_w * 0.22 - grow, head_bottom - 10, cx + head_w * 0.22 + grow, height * 0.6),
                       fill=(*colour, 255))
        draw.ellipse((cx - head_w / 2 - grow, head_top - grow, cx + head_w / 2 + grow, head_bottom + grow),
                     fill=(*colour, 255))
    return img.filter(ImageFilter.GaussianBlur(1))
