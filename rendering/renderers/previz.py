"""CPU previz: an animatic of the beat, fast and deterministic per seed.

Layers are built once (background from the setting and lighting, the persona's
portrait or a placeholder silhouette as the subject, a dark foreground strip),
graded by the lighting, then every frame is a few affine warps and alpha
composites: the camera move is real 2D camera motion with parallax between the
layers.  The action is burned in as a caption.
"""

from __future__ import annotations

import math
import random
import textwrap
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from rendering.beat import CameraMove, Framing, Lighting
from rendering.errors import RenderCancelled
from rendering.renderers.base import CancelledFn, ProgressFn, RenderContext, RenderedClip, Renderer

OVERSCAN = 1.5  # layers are drawn larger than the frame so the camera can move without showing edges

# (sky top, sky bottom, ground) per lighting, then a grade: per-channel gain, lift and saturation.
PALETTES: dict[Lighting, tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]] = {
    Lighting.GOLDEN_HOUR: ((250, 160, 90), (255, 214, 150), (120, 80, 50)),
    Lighting.OVERCAST: ((150, 158, 168), (196, 200, 205), (90, 96, 92)),
    Lighting.NEON: ((30, 10, 60), (200, 40, 160), (25, 20, 45)),
    Lighting.CANDLELIGHT: ((40, 22, 12), (120, 70, 30), (60, 35, 20)),
    Lighting.MOONLIGHT: ((10, 18, 45), (50, 70, 120), (20, 28, 45)),
    Lighting.STUDIO: ((70, 70, 75), (150, 150, 155), (110, 110, 115)),
    Lighting.DAYLIGHT: ((110, 170, 235), (200, 225, 250), (95, 140, 80)),
    Lighting.FIRELIGHT: ((30, 12, 8), (180, 70, 20), (50, 25, 12)),
    Lighting.RAINY_NIGHT: ((15, 20, 30), (55, 65, 85), (25, 30, 38)),
}
GRADES: dict[Lighting, tuple[tuple[float, float, float], tuple[int, int, int], float]] = {
    Lighting.GOLDEN_HOUR: ((1.12, 1.0, 0.8), (12, 4, 0), 1.1),
    Lighting.OVERCAST: ((0.95, 0.98, 1.02), (8, 8, 10), 0.7),
    Lighting.NEON: ((1.05, 0.85, 1.15), (10, 0, 20), 1.3),
    Lighting.CANDLELIGHT: ((1.15, 0.9, 0.65), (10, 4, 0), 1.0),
    Lighting.MOONLIGHT: ((0.75, 0.85, 1.15), (0, 4, 14), 0.6),
    Lighting.STUDIO: ((1.0, 1.0, 1.0), (0, 0, 0), 1.0),
    Lighting.DAYLIGHT: ((1.02, 1.02, 1.0), (0, 0, 0), 1.05),
    Lighting.FIRELIGHT: ((1.2, 0.85, 0.6), (14, 2, 0), 1.1),
    Lighting.RAINY_NIGHT: ((0.8, 0.9, 1.1), (0, 6, 12), 0.7),
}
SUBJECT_HEIGHT = {Framing.CLOSE_UP: 0.95, Framing.MEDIUM: 0.72, Framing.WIDE: 0.42}

SCENERY_WORDS = {
    "city": ("city", "street", "rooftop", "alley", "downtown", "skyline", "neon", "club", "subway", "tokyo"),
    "forest": ("forest", "woods", "park", "garden", "tree", "trees", "jungle", "meadow", "orchard"),
    "water": ("beach", "sea", "ocean", "lake", "river", "shore", "harbor", "harbour", "pier", "pool", "coast"),
    "interior": ("room", "bedroom", "kitchen", "cafe", "café", "bar", "apartment", "library", "office", "studio",
                 "restaurant", "inn", "tavern", "hall", "home", "house", "living", "cabin"),
    "mountain": ("mountain", "mountains", "cliff", "hill", "hills", "valley", "canyon", "desert", "dunes"),
}


def _rng(*parts: object) -> random.Random:
    # zlib.crc32, not hash(): Python salts str hashes per process and the result must be reproducible.
    return random.Random(zlib.crc32("|".join(map(str, parts)).encode()))


def _scenery(setting: str) -> str:
    words = set(setting.lower().replace(",", " ").replace(".", " ").split())
    for kind, keys in SCENERY_WORDS.items():
        if words & set(keys):
            return kind
    return "open"


def _grade_lut(lighting: Lighting) -> list[int]:
    gains, lift, _ = GRADES[lighting]
    lut: list[int] = []
    for channel in range(3):
        lut += [min(255, max(0, round(v * gains[channel] + lift[channel]))) for v in range(256)]
    return lut


def _grade(img: Image.Image, lighting: Lighting) -> Image.Image:
    """The lighting as a colour grade: per-channel curves, then saturation."""
    alpha = img.getchannel("A") if img.mode == "RGBA" else None
    rgb = img.convert("RGB").point(_grade_lut(lighting))
    saturation = GRADES[lighting][2]
    if saturation != 1.0:
        grey = ImageOps.grayscale(rgb).convert("RGB")
        rgb = Image.blend(grey, rgb, saturation)
    if alpha is not None:
        rgb.putalpha(alpha)
    return rgb


def _gradient(size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    w, h = size
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    col = np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t
    return Image.fromarray(np.broadcast_to(col, (h, w, 3)).astype(np.uint8), "RGB")


def _background(ctx: RenderContext, size: tuple[int, int]) -> Image.Image:
    beat = ctx.beat
    rng = _rng(beat.seed, beat.setting, "bg")
    sky, horizon_col, ground = PALETTES[beat.lighting]
    jitter = [rng.randint(-14, 14) for _ in range(3)]
    sky = tuple(max(0, min(255, c + j)) for c, j in zip(sky, jitter, strict=True))
    w, h = size
    u = h / 720  # shapes are designed at 720 px tall and scaled with the frame
    img = _gradient(size, sky, horizon_col)
    draw = ImageDraw.Draw(img)
    horizon = int(h * rng.uniform(0.55, 0.68))
    dark = tuple(int(c * 0.45) for c in ground)
    night = beat.lighting in (Lighting.MOONLIGHT, Lighting.NEON, Lighting.RAINY_NIGHT)
    if night:
        for _ in range(160):
            x, y, r = rng.randrange(w), rng.randrange(horizon), rng.choice((1, 1, 2))
            draw.ellipse((x, y, x + r, y + r), fill=(230, 230, 255))
        if beat.lighting == Lighting.MOONLIGHT:
            mx, my, r = int(w * rng.uniform(0.2, 0.8)), int(h * 0.18), 40 * u
            draw.ellipse((mx - r, my - r, mx + r, my + r), fill=(240, 240, 220))
    elif beat.lighting in (Lighting.GOLDEN_HOUR, Lighting.DAYLIGHT):
        sx, sy = int(w * rng.uniform(0.15, 0.85)), int(horizon * rng.uniform(0.3, 0.8))
        r = 55 * u
        draw.ellipse((sx - r, sy - r, sx + r, sy + r), fill=(255, 236, 180))

    kind = _scenery(beat.setting)
    if kind == "interior":
        draw.rectangle((0, horizon, w, h), fill=ground)
        for _ in range(3):  # windows and frames on the back wall
            ww, wh = rng.randint(w // 9, w // 5), rng.randint(h // 5, h // 3)
            x0, y0 = rng.randrange(0, max(1, w - ww)), int(h * rng.uniform(0.12, 0.3))
            draw.rectangle((x0, y0, x0 + ww, y0 + wh), fill=horizon_col, outline=dark, width=max(1, round(10 * u)))
        draw.line((0, horizon, w, horizon), fill=dark, width=6)
    elif kind == "city":
        x = 0
        while x < w:
            bw, bh = max(4, round(rng.randint(60, 180) * u)), rng.randint(int(h * 0.2), int(h * 0.6))
            draw.rectangle((x, horizon - bh, x + bw, h), fill=dark)
            lit = (255, 220, 120) if not night or beat.lighting != Lighting.NEON else rng.choice(
                [(255, 60, 200), (60, 220, 255), (255, 200, 60)])
            step_y, step_x = max(3, round(26 * u)), max(3, round(22 * u))
            for wy in range(horizon - bh + step_y // 2, horizon, step_y):
                for wx in range(x + step_x // 3, x + bw - step_x // 2, step_x):
                    if rng.random() < (0.45 if night else 0.15):
                        draw.rectangle((wx, wy, wx + step_x // 2, wy + step_y // 2), fill=lit)
            x += bw + max(1, round(rng.randint(4, 30) * u))
        draw.rectangle((0, horizon, w, h), fill=ground)
    elif kind == "forest":
        draw.rectangle((0, horizon, w, h), fill=ground)
        for _ in range(40):
            x, th = rng.randrange(w), rng.randint(int(h * 0.15), int(h * 0.45))
            draw.polygon([(x, horizon - th), (x - th // 4, horizon + 10), (x + th // 4, horizon + 10)], fill=dark)
    elif kind == "water":
        water = tuple(int(c * 0.8) for c in horizon_col)
        draw.rectangle((0, horizon, w, h), fill=water)
        for _ in range(90):
            y, x = rng.randint(horizon + 4, h), rng.randrange(w)
            draw.line((x, y, x + rng.randint(20, 90) * u, y), fill=sky, width=max(1, round(2 * u)))
    else:  # open land or mountains: layered ridges
        peaks = 7 if kind == "mountain" else 3
        for layer in range(2):
            pts = [(0, h)]
            for i in range(peaks + 1):
                amp = (0.35 if kind == "mountain" else 0.1) * h / (layer + 1)
                pts.append((i * w / peaks, horizon - rng.uniform(0.2, 1.0) * amp + layer * 30))
            pts.append((w, h))
            shade = tuple(int(c * (0.6 + 0.25 * layer)) for c in ground)
            draw.polygon(pts, fill=shade)
    return _grade(img.filter(ImageFilter.GaussianBlur(1.2)), beat.lighting)


def _subject(ctx: RenderContext, height: int) -> Image.Image:
    """The persona's portrait in a soft oval, or a placeholder silhouette."""
    width = int(height * 0.75)
    if ctx.portrait_path:
        with Image.open(ctx.portrait_path) as src:
            face = ImageOps.fit(ImageOps.exif_transpose(src).convert("RGB"), (width, height), Image.Resampling.LANCZOS)
        mask = Image.new("L", (width, height), 0)
        ImageDraw.Draw(mask).ellipse((width * 0.04, height * 0.02, width * 0.96, height * 1.2), fill=255)
        face.putalpha(mask.filter(ImageFilter.GaussianBlur(max(2, width // 40))))
        return _grade(face, ctx.beat.lighting)
    rng = _rng(ctx.beat.seed, ctx.persona_name, "subject")
    body = tuple(int(c * 0.3) for c in PALETTES[ctx.beat.lighting][2])
    rim = PALETTES[ctx.beat.lighting][1]
    img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    head_w = width * rng.uniform(0.34, 0.4)
    cx, head_top = width / 2, height * 0.06
    head_bottom = head_top + head_w * 1.3
    shoulders = [(width * 0.02, height), (width * 0.12, height * 0.55),
                 (width * 0.88, height * 0.55), (width * 0.98, height)]
    neck = (cx - head_w * 0.22, head_bottom - 10, cx + head_w * 0.22, height * 0.58)
    for grow, colour in ((4, rim), (0, body)):  # rim light first, body on top
        draw.polygon([(x + (grow if x > cx else -grow), y - grow) for x, y in shoulders], fill=(*colour, 255))
        draw.rectangle((neck[0] - grow, neck[1], neck[2] + grow, neck[3]), fill=(*colour, 255))
        draw.ellipse((cx - head_w / 2 - grow, head_top - grow, cx + head_w / 2 + grow, head_bottom + grow),
                     fill=(*colour, 255))
    return img.filter(ImageFilter.GaussianBlur(1))


def _foreground(ctx: RenderContext, size: tuple[int, int]) -> Image.Image:
    """Dark shapes near the lens: they move fastest, which sells the parallax."""
    rng = _rng(ctx.beat.seed, ctx.beat.setting, "fg")
    w, h = size
    img = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    col = tuple(int(c * 0.2) for c in PALETTES[ctx.beat.lighting][2])
    for _ in range(6):
        x, r = rng.randrange(w), rng.randint(h // 12, h // 6)
        draw.ellipse((x - r, h - r, x + r, h + r), fill=(*col, 235))
    return img.filter(ImageFilter.GaussianBlur(6))


def _caption(ctx: RenderContext) -> Image.Image:
    w, h = ctx.width, ctx.height
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    text = ctx.beat.action.strip()
    if not text:
        return img
    size = max(10, h // 26)
    font = ImageFont.load_default(size=size)
    lines = textwrap.wrap(text, width=max(20, int(w / (size * 0.55))))[:2]
    draw = ImageDraw.Draw(img)
    box_h = (size + 6) * len(lines) + 14
    draw.rectangle((0, h - box_h, w, h), fill=(0, 0, 0, 140))
    for i, line in enumerate(lines):
        tw = draw.textlength(line, font=font)
        draw.text(((w - tw) / 2, h - box_h + 7 + i * (size + 6)), line, font=font, fill=(255, 255, 255, 240))
    return img


def _vignette(width: int, height: int) -> Image.Image:
    y, x = np.ogrid[-1:1:complex(0, height), -1:1:complex(0, width)]
    alpha = np.clip((np.sqrt(x * x + y * y) - 0.75) * 260, 0, 150).astype(np.uint8)
    img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    img.putalpha(Image.fromarray(alpha, "L"))
    return img


@dataclass(frozen=True)
class Pose:
    """Where each layer sits in frame t: offsets in frame widths/heights (+x right, +y down), and scales."""

    bg: tuple[float, float, float]
    subject: tuple[float, float, float]
    fg: tuple[float, float, float]


def _ease(t: float) -> float:
    return t * t * (3 - 2 * t)


def camera_pose(camera: CameraMove, t: float, seed: int) -> Pose:
    """The camera move at time t in [0, 1], as per-layer (dx, dy, scale); parallax = layers move at different rates."""
    e = _ease(t)
    match camera:
        case CameraMove.DOLLY_IN:
            return Pose((0, 0, 1 + 0.12 * e), (0, 0.04 * e, 1 + 0.35 * e), (0, 0, 1 + 0.6 * e))
        case CameraMove.DOLLY_OUT:
            return Pose((0, 0, 1.12 - 0.12 * e), (0, 0.04 * (1 - e), 1.35 - 0.35 * e), (0, 0, 1.6 - 0.6 * e))
        case CameraMove.PAN_LEFT:  # the camera turns left, so the scene slides right across the frame
            return Pose((0.2 * (e - 0.5), 0, 1), (0.24 * (e - 0.5), 0, 1), (0.4 * (e - 0.5), 0, 1))
        case CameraMove.PAN_RIGHT:
            return Pose((-0.2 * (e - 0.5), 0, 1), (-0.24 * (e - 0.5), 0, 1), (-0.4 * (e - 0.5), 0, 1))
        case CameraMove.TILT_UP:  # the camera looks up, so the scene slides down
            return Pose((0, 0.16 * (e - 0.5), 1), (0, 0.2 * (e - 0.5), 1), (0, 0.3 * (e - 0.5), 1))
        case CameraMove.TILT_DOWN:
            return Pose((0, -0.16 * (e - 0.5), 1), (0, -0.2 * (e - 0.5), 1), (0, -0.3 * (e - 0.5), 1))
        case CameraMove.CRANE_UP:  # rising: near things drop away faster than far ones, and we see more
            return Pose((0, 0.06 * e, 1.05 - 0.05 * e), (0, 0.22 * e, 1 - 0.12 * e), (0, 0.55 * e, 1 - 0.1 * e))
        case CameraMove.ORBIT:  # circling the subject: background and foreground slide in opposite directions
            s = math.sin(math.pi * (e - 0.5))
            return Pose((-0.16 * s, 0, 1.05), (0.03 * s, 0, 1 + 0.04 * math.cos(math.pi * (e - 0.5))), (0.45 * s, 0, 1))
        case CameraMove.HANDHELD_TRACKING:
            rng = _rng(seed, "handheld")
            ph = [rng.uniform(0, 2 * math.pi) for _ in range(4)]
            jx = 0.012 * math.sin(2 * math.pi * 1.7 * t + ph[0]) + 0.006 * math.sin(2 * math.pi * 4.3 * t + ph[1])
            jy = 0.010 * math.sin(2 * math.pi * 1.3 * t + ph[2]) + 0.005 * math.sin(2 * math.pi * 5.1 * t + ph[3])
            track = -0.08 * (t - 0.5)  # walking alongside: the background drifts past
            return Pose((track + jx, jy, 1.04), (jx * 1.2, jy * 1.2, 1.04), (3 * track + jx * 1.5, jy, 1.04))
        case CameraMove.DOLLY_ZOOM:  # the vertigo shot: background grows while the subject holds its size
            return Pose((0, 0, 1 + 0.45 * e), (0, 0, 1 - 0.04 * e), (0, 0, 1 + 0.8 * e))
        case _:
            return Pose((0, 0, 1), (0, 0, 1), (0, 0, 1))


def _composite(frame: Image.Image, layer: Image.Image, anchor: tuple[float, float],
               dx: float, dy: float, scale: float) -> None:
    """Draw ``layer`` so its ``anchor`` lands at the frame centre + (dx, dy) frame sizes, scaled by ``scale``.

    Only the visible part is resampled (a crop when unscaled), which keeps a frame at a few milliseconds.
    """
    fw, fh = frame.size
    lw, lh = layer.size
    x0 = fw / 2 + dx * fw - anchor[0] * scale
    y0 = fh / 2 + dy * fh - anchor[1] * scale
    left, top = max(0, math.floor(x0)), max(0, math.floor(y0))
    right, bottom = min(fw, math.ceil(x0 + lw * scale)), min(fh, math.ceil(y0 + lh * scale))
    if right <= left or bottom <= top:
        return
    if abs(scale - 1.0) < 1e-6:
        ix, iy = round(x0), round(y0)
        left, top = max(0, ix), max(0, iy)
        right, bottom = min(fw, ix + lw), min(fh, iy + lh)
        if right <= left or bottom <= top:
            return
        part = layer.crop((left - ix, top - iy, right - ix, bottom - iy))
    else:
        box = (
            max(0.0, (left - x0) / scale), max(0.0, (top - y0) / scale),
            min(float(lw), (right - x0) / scale), min(float(lh), (bottom - y0) / scale),
        )
        part = layer.resize((right - left, bottom - top), Image.Resampling.BILINEAR, box=box)
    frame.paste(part, (left, top), part if part.mode == "RGBA" else None)


class PrevizRenderer(Renderer):
    name = "previz"

    def render(self, job_context: RenderContext, on_progress: ProgressFn, is_cancelled: CancelledFn) -> RenderedClip:
        ctx = job_context
        w, h = ctx.width, ctx.height
        beat = ctx.beat
        bg = _background(ctx, (int(w * OVERSCAN), int(h * OVERSCAN)))
        subject_h = int(h * SUBJECT_HEIGHT[beat.framing])
        subject = _subject(ctx, subject_h)
        fg = _foreground(ctx, (int(w * OVERSCAN), int(h * OVERSCAN * 0.5)))
        overlay = _vignette(w, h)  # vignette and caption never move: one precomputed overlay
        overlay.alpha_composite(_caption(ctx))
        rain = self._rain(ctx) if beat.lighting == Lighting.RAINY_NIGHT or "rain" in beat.setting.lower() else None
        total = ctx.frame_count
        bg_anchor = (bg.width / 2, bg.height / 2)
        # The subject stands on the lower part of the frame: anchor their centre a bit below frame centre.
        subject_anchor = (subject.width / 2, subject.height / 2 - (h - subject_h) * 0.5)
        fg_anchor = (fg.width / 2, fg.height / 2 - h * 0.5 + fg.height * 0.5 - h * 0.1)

        def frames() -> Iterator[np.ndarray]:
            for i in range(total):
                if is_cancelled():
                    raise RenderCancelled()
                pose = camera_pose(beat.camera, i / max(1, total - 1), beat.seed)
                frame = Image.new("RGB", (w, h))
                _composite(frame, bg, bg_anchor, *pose.bg)
                _composite(frame, subject, subject_anchor, *pose.subject)
                _composite(frame, fg, fg_anchor, *pose.fg)
                if rain is not None:
                    offset = (i * 23) % h
                    drops = rain.crop((0, h - offset, w, 2 * h - offset))
                    frame.paste(drops, (0, 0), drops)
                frame.paste(overlay, (0, 0), overlay)
                yield np.asarray(frame)
                on_progress(i + 1, total, "rendering")

        return RenderedClip(frames=frames(), fps=ctx.fps, frame_count=total)

    @staticmethod
    def _rain(ctx: RenderContext) -> Image.Image:
        rng = _rng(ctx.beat.seed, "rain")
        w, h = ctx.width, ctx.height
        img = Image.new("RGBA", (w, 2 * h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(img)
        for _ in range(260):
            x, y = rng.randrange(w), rng.randrange(2 * h)
            draw.line((x, y, x - 3, y + 14), fill=(190, 200, 230, 110), width=1)
        return img
