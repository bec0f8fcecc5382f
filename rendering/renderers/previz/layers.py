"""Weather and light as layers: moving particles, fog banks, lightning, the lighting grade, captions.

Particles are drawn once into a texture that tiles in both directions; a frame
takes a window of it, shifted by the frame number (rain falls fast and slants
with the wind, snow drifts, fog slides sideways), so each costs a crop and a
paste per frame. Indoors the far layer is masked to the window panes.
"""

from __future__ import annotations

import math
import random
import textwrap
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from rendering.beat import Lighting

# Per-channel gain, lift and saturation for each lighting: the grade of every built layer.
GRADES: dict[Lighting, tuple[tuple[float, float, float], tuple[int, int, int], float]] = {
    Lighting.GOLDEN_HOUR: ((1.12, 1.0, 0.8), (12, 4, 0), 1.1),
    Lighting.OVERCAST: ((0.95, 0.98, 1.02), (8, 8, 10), 0.7),
    Lighting.NEON: ((1.05, 0.85, 1.15), (10, 0, 20), 1.25),
    Lighting.CANDLELIGHT: ((1.15, 0.9, 0.65), (10, 4, 0), 1.0),
    Lighting.MOONLIGHT: ((0.78, 0.86, 1.12), (0, 4, 14), 0.65),
    Lighting.STUDIO: ((1.0, 1.0, 1.0), (0, 0, 0), 1.0),
    Lighting.DAYLIGHT: ((1.02, 1.02, 1.0), (0, 0, 0), 1.05),
    Lighting.FIRELIGHT: ((1.2, 0.85, 0.6), (14, 2, 0), 1.1),
    Lighting.RAINY_NIGHT: ((0.82, 0.9, 1.08), (0, 6, 12), 0.7),
}


def grade(img: Image.Image, lighting: Lighting, *, exposure: float = 1.0) -> Image.Image:
    """The lighting as a colour grade (per-channel curves, then saturation); alpha is kept."""
    gains, lift, saturation = GRADES[lighting]
    lut: list[int] = []
    for channel in range(3):
        lut += [min(255, max(0, round(v * gains[channel] * exposure + lift[channel]))) for v in range(256)]
    alpha = img.getchannel("A") if img.mode == "RGBA" else None
    rgb = img.convert("RGB").point(lut)
    if saturation != 1.0:
        rgb = Image.blend(ImageOps.grayscale(rgb).convert("RGB"), rgb, saturation)
    if alpha is not None:
        rgb.putalpha(alpha)
    return rgb


@dataclass
class Particles:
    """One colour over a tiling coverage texture, and how far it moves per frame (pixels, +x right, +y down).

    ``texture`` is RGBA (the colour, coverage as alpha): pasting an RGBA window costs half what pasting a
    colour through an L mask does in PIL (1.7 vs 3.8 ms at 854x480 here).
    """

    name: str
    texture: Image.Image  # RGBA, 2w x 2h: the w x h tile repeated, so any w x h window is seamless
    colour: tuple[int, int, int]
    vx: float
    vy: float
    wobble: float = 0.0  # sideways sway (snow), pixels

    def __post_init__(self) -> None:
        if self.texture.mode == "L":
            rgba = Image.new("RGBA", self.texture.size, (*self.colour, 0))
            rgba.putalpha(self.texture)
            self.texture = rgba

    def window(self, frame_index: int, size: tuple[int, int]) -> Image.Image:
        w, h = size
        x = (frame_index * self.vx + self.wobble * math.sin(frame_index * 0.35)) % w
        y = (frame_index * self.vy) % h
        return self.texture.crop((int(w - x) % w, int(h - y) % h, int(w - x) % w + w, int(h - y) % h + h))


def _tiled(tile: Image.Image) -> Image.Image:
    w, h = tile.size
    out = Image.new(tile.mode, (2 * w, 2 * h))
    for dx in (0, w):
        for dy in (0, h):
            out.paste(tile, (dx, dy))
    return out


def _wrapped_line(draw: ImageDraw.ImageDraw, size, x, y, dx, dy, fill, width) -> None:
    """A line on a tile that wraps around: drawn again shifted by a tile only where it crosses an edge."""
    w, h = size
    xs = (0, -w) if max(x, x + dx) > w else ((0, w) if min(x, x + dx) < 0 else (0,))
    ys = (0, -h) if max(y, y + dy) > h else ((0, h) if min(y, y + dy) < 0 else (0,))
    for ox in xs:
        for oy in ys:
            draw.line((x + ox, y + oy, x + dx + ox, y + dy + oy), fill=fill, width=width)


def rain(size: tuple[int, int], rng: random.Random, *, near: bool, heavy: bool, slant: float) -> Particles:
    w, h = size
    tile = Image.new("L", size, 0)
    d = ImageDraw.Draw(tile)
    count = int((w * h) / (2600 if near else 900) * (1.6 if heavy else 1.0))
    length = h * (0.09 if near else 0.045)
    alpha = 120 if near else 80
    for _ in range(count):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        ln = length * rng.uniform(0.7, 1.2)
        _wrapped_line(d, size, x, y, -slant * ln, ln, alpha, 2 if near and h > 300 else 1)
    speed = h * (0.16 if near else 0.11)
    return Particles("rain_near" if near else "rain", _tiled(tile), (200, 210, 230), -slant * speed, speed)


def snow(size: tuple[int, int], rng: random.Random, *, near: bool, wind: float) -> Particles:
    w, h = size
    tile = Image.new("L", size, 0)
    d = ImageDraw.Draw(tile)
    count = int((w * h) / (5000 if near else 1600))
    for _ in range(count):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        r = (rng.uniform(2.0, 3.6) if near else rng.uniform(0.8, 1.8)) * h / 480
        for ox in (-w, 0, w):
            for oy in (-h, 0, h):
                d.ellipse((x + ox - r, y + oy - r, x + ox + r, y + oy + r), fill=220 if near else 170)
    speed = h * (0.012 if near else 0.007)
    return Particles("snow_near" if near else "snow", _tiled(tile.filter(ImageFilter.GaussianBlur(0.6))),
                     (245, 248, 255), wind * speed * 3, speed, wobble=h * 0.01)


def fog(size: tuple[int, int], rng: random.Random, *, density: float, colour: tuple[int, int, int]) -> Particles:
    w, h = size
    sw, sh = max(8, w // 6), max(8, h // 6)
    small = Image.new("L", (sw, sh), 0)
    d = ImageDraw.Draw(small)
    for _ in range(28):
        x, y = rng.uniform(0, sw), rng.uniform(sh * 0.2, sh * 1.05)
        rx, ry = rng.uniform(0.12, 0.3) * sw, rng.uniform(0.05, 0.12) * sh
        for ox in (-sw, 0, sw):
            d.ellipse((x + ox - rx, y - ry, x + ox + rx, y + ry), fill=int(255 * density * rng.uniform(0.5, 1.0)))
    # blur a 3x-wide copy and keep the middle, so the bank wraps around without a seam
    wide = Image.new("L", (3 * sw, sh))
    for k in range(3):
        wide.paste(small, (k * sw, 0))
    alpha = wide.filter(ImageFilter.GaussianBlur(sw / 14)).crop((sw, 0, 2 * sw, sh))
    alpha = alpha.resize(size, Image.Resampling.BILINEAR)
    return Particles("fog", _tiled(alpha), colour, w * 0.004, 0.0)


def wind(size: tuple[int, int], rng: random.Random) -> Particles:
    w, h = size
    tile = Image.new("L", size, 0)
    d = ImageDraw.Draw(tile)
    for _ in range(int(w * h / 9000)):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        _wrapped_line(d, size, x, y, w * 0.06, h * 0.004, 60, 1)
    for _ in range(int(w * h / 30000)):  # spray and debris
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        r = h / 240
        d.ellipse((x - r, y - r * 0.6, x + r, y + r * 0.6), fill=170)
    return Particles("wind", _tiled(tile), (226, 228, 232), w * 0.05, h * 0.004)


def lightning_frames(total: int, rng: random.Random) -> dict[int, float]:
    """Frame -> flash strength: one or two strikes, each a bright frame, a dip and an after-flash."""
    flashes: dict[int, float] = {}
    strikes = 2 if total > 48 else 1
    for k in range(strikes):
        start = int(total * rng.uniform(0.15 + 0.45 * k, 0.35 + 0.45 * k))
        for offset, strength in ((0, 1.0), (1, 0.35), (2, 0.75), (3, 0.2)):
            if 0 <= start + offset < total:
                flashes[start + offset] = max(flashes.get(start + offset, 0.0), strength)
    return flashes


def bolt(size: tuple[int, int], rng: random.Random, sky: tuple[int, int, int, int]) -> Image.Image:
    """A jagged lightning bolt across the sky box (RGBA, in background coordinates)."""
    img = Image.new("RGBA", size, (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = sky
    x, y = rng.uniform(x0 + (x1 - x0) * 0.2, x0 + (x1 - x0) * 0.8), y0
    points = [(x, y)]
    while y < y1 * 0.95:
        y += (y1 - y0) * rng.uniform(0.06, 0.14)
        x += (x1 - x0) * rng.uniform(-0.05, 0.05)
        points.append((x, y))
    d.line(points, fill=(235, 240, 255, 255), width=max(2, size[1] // 240))
    k = 0.25  # the halo is soft: blurred at a quarter of the size
    small = img.resize((max(4, int(size[0] * k)), max(4, int(size[1] * k))), Image.Resampling.BILINEAR)
    glow = small.filter(ImageFilter.GaussianBlur(size[1] * k / 90)).resize(size, Image.Resampling.BILINEAR)
    glow.alpha_composite(img)
    return glow


def vignette(width: int, height: int) -> Image.Image:
    """The darkening of the corners, as a coverage mask (L) to paste black through."""
    y, x = np.ogrid[-1:1:complex(0, height), -1:1:complex(0, width)]
    alpha = np.clip((np.sqrt(x * x + y * y) - 0.75) * 260, 0, 150).astype(np.uint8)
    return Image.fromarray(alpha, "L")


def subtitle_lines(text: str, width: int, font: ImageFont.ImageFont, max_lines: int = 2) -> list[str]:
    """``text`` wrapped to the frame, at most ``max_lines`` lines (the last ends in … when cut)."""
    words = text.split()
    lines: list[str] = []
    current = ""
    for word in words:
        trial = f"{current} {word}".strip()
        if font.getlength(trial) <= width or not current:
            current = trial
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and font.getlength(f"{last}…") > width:
            last = last.rsplit(" ", 1)[0] if " " in last else last[:-1]
        lines[-1] = f"{last}…"
    return lines or textwrap.wrap(text, 40)[:max_lines]


def subtitle_font(height: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=max(10, round(height / 24)))


def band_height(height: int, lines: int) -> int:
    size = max(10, round(height / 24))
    return (size + max(3, size // 3)) * lines + 2 * max(5, size // 2)


def subtitle_band(width: int, height: int, lines: list[str]) -> Image.Image:
    """A translucent band with the lines centred on it (RGBA, frame-wide, as tall as the band)."""
    font = subtitle_font(height)
    fsize = max(10, round(height / 24))
    line_h = fsize + max(3, fsize // 3)
    pad = max(5, fsize // 2)
    band_h = line_h * len(lines) + 2 * pad
    img = Image.new("RGBA", (width, band_h), (0, 0, 0, 150))
    d = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        tw = d.textlength(line, font=font)
        d.text(((width - tw) / 2, pad + i * line_h), line, font=font, fill=(255, 255, 255, 245))
    return img
