"""Place kits: the background of a scene, drawn from the setting, time of day, weather and props.

Each kit draws one kind of place on a ``Canvas`` (the background layer, larger
than the frame so the camera can move) and records what later layers need:
window boxes (weather is seen through them indoors), light sources (glow), the
sky box (lightning), and the kind of surface the persona stands behind (a table
in a room, a rail on a quay, a log in a forest), on which ``props.surface_layer``
sets the small props the beat names (mugs, a chart, candles, a lamp, books...).
Big props (boats, a window, a bed, a fireplace, a street lamp, a neon sign)
are drawn by the kits that have room for them.

Shapes are laid out on fractions of the canvas and drawn with PIL, so a kit
costs a few tens of milliseconds once per clip. The file is long on purpose:
eighteen short drawing routines over shared pieces read best side by side.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from rendering.beat import Lighting, TimeOfDay, Weather

RGB = tuple[int, int, int]

SKIES: dict[tuple[TimeOfDay, bool], tuple[RGB, RGB]] = {  # (time, overcast) -> (top, horizon)
    (TimeOfDay.DAY, False): ((92, 154, 226), (196, 222, 248)),
    (TimeOfDay.DAY, True): ((118, 126, 138), (172, 178, 186)),
    (TimeOfDay.DAWN, False): ((64, 76, 140), (250, 184, 146)),
    (TimeOfDay.DAWN, True): ((92, 96, 120), (196, 164, 150)),
    (TimeOfDay.DUSK, False): ((52, 44, 104), (250, 148, 88)),
    (TimeOfDay.DUSK, True): ((70, 64, 88), (170, 120, 100)),
    (TimeOfDay.NIGHT, False): ((6, 10, 32), (32, 46, 92)),
    (TimeOfDay.NIGHT, True): ((8, 10, 18), (34, 38, 52)),
}
AMBIENT = {TimeOfDay.DAY: 1.0, TimeOfDay.DAWN: 0.78, TimeOfDay.DUSK: 0.72, TimeOfDay.NIGHT: 0.42}
WARM: RGB = (255, 196, 120)


class SafeDraw(ImageDraw.ImageDraw):
    """ImageDraw that accepts boxes given corner-first in any order (tiny frames make some shapes invert)."""

    @staticmethod
    def _norm(xy):
        x0, y0, x1, y1 = xy
        return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))

    def rectangle(self, xy, *args, **kwargs):
        return super().rectangle(self._norm(xy), *args, **kwargs)

    def rounded_rectangle(self, xy, *args, **kwargs):
        return super().rounded_rectangle(self._norm(xy), *args, **kwargs)

    def ellipse(self, xy, *args, **kwargs):
        return super().ellipse(self._norm(xy), *args, **kwargs)

    def arc(self, xy, *args, **kwargs):
        return super().arc(self._norm(xy), *args, **kwargs)

    def pieslice(self, xy, *args, **kwargs):
        return super().pieslice(self._norm(xy), *args, **kwargs)


def shade(colour: RGB, k: float) -> RGB:
    return tuple(max(0, min(255, round(c * k))) for c in colour)  # type: ignore[return-value]


def mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


@dataclass
class Light:
    x: float
    y: float
    radius: float
    colour: RGB
    strength: float = 0.55


@dataclass
class Canvas:
    """The background being drawn, and what the kit records for the layers above it."""

    size: tuple[int, int]
    time: TimeOfDay
    weather: Weather
    lighting: Lighting
    rng: random.Random
    props: dict[str, int]
    img: Image.Image = field(init=False)
    draw: SafeDraw = field(init=False)
    windows: list[tuple[int, int, int, int]] = field(default_factory=list)
    lights: list[Light] = field(default_factory=list)
    sky_box: tuple[int, int, int, int] | None = None
    horizon: float = 0.6  # fraction of the height where the ground (or floor) starts
    surface: str = "table"
    surface_colour: RGB = (96, 64, 40)
    exterior_beam: tuple[float, float] | None = None  # a lighthouse lamp: the beam sweeps from here

    def __post_init__(self) -> None:
        self.img = Image.new("RGB", self.size)
        self.draw = SafeDraw(self.img)

    @property
    def w(self) -> int:
        return self.size[0]

    @property
    def h(self) -> int:
        return self.size[1]

    @property
    def u(self) -> float:
        return self.h / 720

    @property
    def overcast(self) -> bool:
        return self.weather in (Weather.RAIN, Weather.STORM, Weather.FOG, Weather.SNOW) or self.lighting in (
            Lighting.OVERCAST, Lighting.RAINY_NIGHT)

    @property
    def night(self) -> bool:
        return self.time == TimeOfDay.NIGHT or self.lighting in (Lighting.MOONLIGHT, Lighting.RAINY_NIGHT,
                                                                  Lighting.NEON)

    @property
    def ambient(self) -> float:
        a = AMBIENT[TimeOfDay.NIGHT if self.night else self.time]
        return a * (0.82 if self.overcast else 1.0)

    def lit(self, colour: RGB) -> RGB:
        """A surface colour under the scene's ambient light."""
        return shade(colour, self.ambient)

    def wants(self, prop: str) -> bool:
        return prop in self.props

    def box(self, x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        return (x0 * self.w, y0 * self.h, x1 * self.w, y1 * self.h)

    # --- pieces ----------------------------------------------------------------------------

    def sky(self, box: tuple[float, float, float, float] | None = None) -> None:
        x0, y0, x1, y1 = box or (0, 0, self.w, self.h * self.horizon)
        top, bottom = SKIES[(TimeOfDay.NIGHT if self.night else self.time, self.overcast)]
        if self.weather == Weather.SNOW and not self.night:
            top, bottom = mix(top, (200, 206, 214), 0.5), mix(bottom, (226, 230, 236), 0.5)
        gradient(self.img, (int(x0), int(y0), int(x1), int(y1)), top, bottom)
        if box is None:
            self.sky_box = (int(x0), int(y0), int(x1), int(y1))
        if self.overcast:
            self.clouds((x0, y0, x1, y1), dense=True)
        elif self.night:
            self.stars((x0, y0, x1, y1))
            if self.lighting == Lighting.MOONLIGHT or self.wants("moon"):
                r = 34 * self.u
                mx, my = x0 + (x1 - x0) * self.rng.uniform(0.6, 0.85), y0 + (y1 - y0) * 0.25
                self.draw.ellipse((mx - r, my - r, mx + r, my + r), fill=(238, 236, 214))
                self.lights.append(Light(mx, my, r * 5, (180, 196, 240), 0.35))
        else:
            sun = (255, 236, 186) if self.time == TimeOfDay.DAY else (255, 200, 130)
            r = 42 * self.u
            sx = x0 + (x1 - x0) * self.rng.uniform(0.15, 0.85)
            sy = y0 + (y1 - y0) * (0.3 if self.time == TimeOfDay.DAY else 0.85)
            self.draw.ellipse((sx - r, sy - r, sx + r, sy + r), fill=sun)
            self.lights.append(Light(sx, sy, r * 4, sun, 0.4))
            self.clouds((x0, y0, x1, y1), dense=False)

    def stars(self, box) -> None:
        x0, y0, x1, y1 = box
        for _ in range(int(120 * (x1 - x0) * (y1 - y0) / (self.w * self.h * 0.5) + 10)):
            x, y = self.rng.uniform(x0, x1), self.rng.uniform(y0, y1 * 0.95)
            r = self.rng.choice((0.8, 1.0, 1.6)) * self.u
            self.draw.ellipse((x - r, y - r, x + r, y + r), fill=(220, 224, 255))

    def clouds(self, box, *, dense: bool) -> None:
        x0, y0, x1, y1 = box
        k = 0.25  # soft shapes: drawn and blurred at a quarter of the size, then scaled up
        small = Image.new("L", (max(4, int(self.w * k)), max(4, int(self.h * k))), 0)
        d = SafeDraw(small)
        base = (70, 74, 86) if self.night else ((150, 154, 162) if dense else (246, 246, 250))
        for _ in range(14 if dense else 5):
            cx, cy = self.rng.uniform(x0, x1) * k, self.rng.uniform(y0, y0 + (y1 - y0) * 0.7) * k
            rw, rh = self.rng.uniform(80, 220) * self.u * k, self.rng.uniform(18, 46) * self.u * k
            d.ellipse((cx - rw, cy - rh, cx + rw, cy + rh), fill=150 if dense else 190)
        cover = small.filter(ImageFilter.GaussianBlur(14 * self.u * k)).resize(self.size, Image.Resampling.BILINEAR)
        self.img.paste(base, (0, 0, self.w, self.h), cover)

    def sea(self, y0: float, y1: float = 1.0) -> None:
        top, _ = SKIES[(TimeOfDay.NIGHT if self.night else self.time, self.overcast)]
        deep = mix(shade(top, 0.75), (20, 40, 60), 0.4)
        gradient(self.img, (0, int(y0 * self.h), self.w, int(y1 * self.h)), mix(deep, (120, 140, 160), 0.2), deep)
        rough = 2.0 if self.weather in (Weather.STORM, Weather.WIND) else 1.0
        for _ in range(int(140 * rough)):
            y = self.rng.uniform(y0 * self.h + 3, y1 * self.h)
            x = self.rng.uniform(0, self.w)
            length = self.rng.uniform(20, 90) * self.u * (1 + (y / self.h - y0) * 2)
            crest = (200, 214, 226) if rough > 1 else mix(deep, (210, 220, 230), 0.45)
            self.draw.line((x, y, x + length, y), fill=crest, width=max(1, round(2 * self.u)))

    def ground(self, colour: RGB, y0: float | None = None) -> None:
        y = (self.horizon if y0 is None else y0) * self.h
        gradient(self.img, (0, int(y), self.w, self.h), self.lit(colour), self.lit(shade(colour, 0.7)))
        if self.weather == Weather.SNOW:
            gradient(self.img, (0, int(y), self.w, self.h), self.lit((232, 236, 242)), self.lit((200, 206, 216)))
        elif self.weather in (Weather.RAIN, Weather.STORM):  # wet: a sheen
            self.draw.rectangle((0, y, self.w, y + 4 * self.u), fill=self.lit(shade(colour, 1.3)))

    def ridges(self, y: float, colour: RGB, peaks: int, amp: float, layers: int = 2, snow: bool = False) -> None:
        for layer in range(layers):
            pts = [(0.0, float(self.h))]
            a = amp * self.h / (layer + 1)
            tops = []
            for i in range(peaks + 1):
                px = i * self.w / peaks + self.rng.uniform(-0.3, 0.3) * self.w / peaks
                py = y * self.h - self.rng.uniform(0.3, 1.0) * a + layer * 26 * self.u
                pts.append((px, py))
                tops.append((px, py))
            pts.append((float(self.w), float(self.h)))
            fill = self.lit(shade(colour, 0.7 + 0.22 * layer))
            if self.night or self.overcast:
                fill = mix(fill, SKIES[(TimeOfDay.NIGHT if self.night else self.time, True)][1], 0.35 - 0.15 * layer)
            self.draw.polygon(pts, fill=fill)
            if snow:
                for px, py in tops:
                    s = a * 0.18
                    self.draw.polygon([(px, py), (px - s, py + s * 0.8), (px + s, py + s * 0.8)],
                                      fill=self.lit((236, 240, 246)))

    def tree(self, x: float, base: float, height: float, colour: RGB, pine: bool = True) -> None:
        trunk = self.lit((70, 50, 36))
        self.draw.rectangle((x - height * 0.03, base - height * 0.25, x + height * 0.03, base), fill=trunk)
        if pine:
            for i in range(3):
                top = base - height + i * height * 0.22
                wide = height * (0.16 + 0.07 * i)
                self.draw.polygon([(x, top), (x - wide, top + height * 0.42), (x + wide, top + height * 0.42)],
                                  fill=self.lit(shade(colour, 0.85 + 0.08 * i)))
        else:
            r = height * 0.32
            self.draw.ellipse((x - r, base - height, x + r, base - height + 2 * r), fill=self.lit(colour))

    def window(self, x0: float, y0: float, x1: float, y1: float, *, frame: RGB, panes: int = 2,
               outside: Callable[[tuple[int, int, int, int]], None] | None = None) -> None:
        """A window onto the sky (and whatever ``outside`` draws in it); weather is seen through it."""
        b = tuple(int(v) for v in self.box(x0, y0, x1, y1))
        self.sky(b)
        if outside is not None:
            outside(b)
        bw = max(2, round(8 * self.u))
        self.draw.rectangle(b, outline=self.lit(frame), width=bw)
        for i in range(1, panes):
            x = b[0] + (b[2] - b[0]) * i / panes
            self.draw.line((x, b[1], x, b[3]), fill=self.lit(frame), width=max(1, bw // 2))
        self.draw.line((b[0], (b[1] + b[3]) / 2, b[2], (b[1] + b[3]) / 2), fill=self.lit(frame),
                       width=max(1, bw // 2))
        self.windows.append(b)

    def wall(self, colour: RGB, floor: RGB, *, horizon: float = 0.72, boards: bool = True) -> None:
        self.horizon = horizon
        warm = self.night
        wall = self.lit(colour) if not warm else mix(self.lit(colour), shade(WARM, 0.32), 0.25)
        gradient(self.img, (0, 0, self.w, int(self.h * horizon)), shade(wall, 0.85), wall)
        gradient(self.img, (0, int(self.h * horizon), self.w, self.h), self.lit(floor), self.lit(shade(floor, 0.7)))
        if boards:
            for i in range(1, 14):
                x = i * self.w / 14
                self.draw.line((x, self.h * horizon, x + (x - self.w / 2) * 0.4, self.h),
                               fill=self.lit(shade(floor, 0.8)), width=max(1, round(2 * self.u)))
        self.draw.rectangle((0, self.h * horizon - 6 * self.u, self.w, self.h * horizon),
                            fill=self.lit(shade(colour, 0.6)))

    def lamp(self, x: float, y: float, *, hanging: bool = True, colour: RGB = WARM) -> None:
        u = self.u
        if hanging:
            self.draw.line((x, 0, x, y - 18 * u), fill=(40, 36, 32), width=max(1, round(2 * u)))
            self.draw.polygon([(x - 26 * u, y), (x + 26 * u, y), (x + 10 * u, y - 20 * u), (x - 10 * u, y - 20 * u)],
                              fill=(60, 50, 40))
            self.draw.ellipse((x - 9 * u, y - 4 * u, x + 9 * u, y + 10 * u), fill=colour)
        else:
            self.draw.rectangle((x - 3 * u, y, x + 3 * u, y + 150 * u), fill=(50, 44, 38))
            self.draw.polygon([(x - 30 * u, y), (x + 30 * u, y), (x + 18 * u, y - 40 * u), (x - 18 * u, y - 40 * u)],
                              fill=mix(colour, (255, 255, 255), 0.2))
        strength = 0.7 if self.night else 0.35
        self.lights.append(Light(x, y, 190 * u, colour, strength))

    def shelf_of_books(self, x0: float, y0: float, x1: float, y1: float, rows: int = 4) -> None:
        b = self.box(x0, y0, x1, y1)
        wood = self.lit((84, 56, 36))
        self.draw.rectangle(b, fill=shade(wood, 0.6))
        row_h = (b[3] - b[1]) / rows
        for r in range(rows):
            y = b[1] + r * row_h
            x = b[0] + 6 * self.u
            while x < b[2] - 8 * self.u:
                bw = self.rng.uniform(7, 16) * self.u
                bh = row_h * self.rng.uniform(0.6, 0.9)
                col = self.lit(self.rng.choice([(140, 40, 40), (40, 70, 120), (60, 100, 60), (150, 120, 60),
                                                (90, 60, 100), (170, 150, 120)]))
                self.draw.rectangle((x, y + row_h - bh - 4 * self.u, x + bw, y + row_h - 4 * self.u), fill=col)
                x += bw + self.rng.uniform(0, 3) * self.u
            self.draw.rectangle((b[0], y + row_h - 5 * self.u, b[2], y + row_h), fill=wood)

    def painting(self, cx: float, cy: float, size: float) -> None:
        w, h = size * self.w, size * self.w * 0.75
        x, y = cx * self.w, cy * self.h
        self.draw.rectangle((x - w / 2, y - h / 2, x + w / 2, y + h / 2), fill=self.lit((120, 90, 40)))
        inner = (x - w / 2 + 6 * self.u, y - h / 2 + 6 * self.u, x + w / 2 - 6 * self.u, y + h / 2 - 6 * self.u)
        gradient(self.img, tuple(int(v) for v in inner), self.lit((90, 140, 180)), self.lit((200, 170, 120)))

    def clock(self, cx: float, cy: float) -> None:
        r = 30 * self.u
        x, y = cx * self.w, cy * self.h
        self.draw.ellipse((x - r, y - r, x + r, y + r), fill=self.lit((230, 224, 210)), outline=self.lit((60, 50, 40)),
                          width=max(1, round(4 * self.u)))
        self.draw.line((x, y, x, y - r * 0.7), fill=(30, 30, 30), width=max(1, round(3 * self.u)))
        self.draw.line((x, y, x + r * 0.5, y), fill=(30, 30, 30), width=max(1, round(3 * self.u)))

    def fireplace(self, cx: float, base: float) -> None:
        u, x, y = self.u, cx * self.w, base * self.h
        self.draw.rectangle((x - 110 * u, y - 150 * u, x + 110 * u, y), fill=self.lit((120, 100, 90)))
        self.draw.rectangle((x - 70 * u, y - 100 * u, x + 70 * u, y), fill=(24, 16, 12))
        for i in range(5):
            fx = x - 45 * u + i * 22 * u
            tip = (fx, y - self.rng.uniform(40, 80) * u)
            self.draw.polygon([(fx - 12 * u, y - 4 * u), (fx + 12 * u, y - 4 * u), tip],
                              fill=(255, 150 + i * 15, 40))
        self.lights.append(Light(x, y - 40 * u, 260 * u, (255, 140, 60), 0.8))

    def bed(self, x0: float, x1: float, top: float) -> None:
        b = self.box(x0, top, x1, self.horizon + 0.12)
        self.draw.rectangle((b[0], b[1] - 60 * self.u, b[0] + 14 * self.u, b[3]), fill=self.lit((90, 60, 40)))
        self.draw.rounded_rectangle(b, radius=int(16 * self.u), fill=self.lit((210, 200, 226)))
        self.draw.rounded_rectangle((b[0] + 20 * self.u, b[1] + 8 * self.u, b[0] + 110 * self.u, b[1] + 50 * self.u),
                                    radius=int(12 * self.u), fill=self.lit((240, 236, 230)))
        self.draw.rectangle((b[0] + (b[2] - b[0]) * 0.45, b[1] + 10 * self.u, b[2], b[3]),
                            fill=self.lit((120, 90, 150)))

    def boat(self, cx: float, y: float, size: float) -> None:
        u, x, s = self.u, cx * self.w, size * self.u
        hull = self.lit(self.rng.choice([(170, 60, 50), (40, 70, 110), (230, 230, 220), (60, 110, 90)]))
        self.draw.polygon([(x - 60 * s, y), (x + 60 * s, y), (x + 44 * s, y + 22 * s), (x - 44 * s, y + 22 * s)],
                          fill=hull)
        self.draw.line((x, y, x, y - 90 * s), fill=self.lit((90, 80, 70)), width=max(1, round(3 * u)))
        self.draw.polygon([(x + 3 * s, y - 86 * s), (x + 3 * s, y - 8 * s), (x + 50 * s, y - 8 * s)],
                          fill=self.lit((236, 230, 214)))
        if self.night:
            self.lights.append(Light(x, y - 4 * s, 40 * s, WARM, 0.6))

    def streetlamp(self, x: float, base: float) -> None:
        u = self.u
        self.draw.rectangle((x - 4 * u, base - 300 * u, x + 4 * u, base), fill=(36, 36, 40))
        self.draw.rectangle((x - 14 * u, base - 318 * u, x + 14 * u, base - 296 * u), fill=(255, 226, 160))
        self.lights.append(Light(x, base - 306 * u, 240 * u, (255, 214, 150), 0.75 if self.night else 0.2))

    def neon_sign(self, x: float, y: float, colour: RGB) -> None:
        u = self.u
        self.draw.rounded_rectangle((x - 70 * u, y - 22 * u, x + 70 * u, y + 22 * u), radius=int(14 * u),
                                    outline=colour, width=max(2, round(6 * u)))
        self.draw.line((x - 40 * u, y, x + 40 * u, y), fill=colour, width=max(2, round(5 * u)))
        self.lights.append(Light(x, y, 110 * u, colour, 0.45))

    def buildings(self, base: float, *, lit_windows: float, neon: bool) -> None:
        x = -20.0
        while x < self.w:
            bw = self.rng.uniform(90, 220) * self.u
            bh = self.rng.uniform(0.25, 0.62) * self.h
            col = self.lit(self.rng.choice([(96, 90, 100), (120, 100, 90), (80, 86, 100), (110, 110, 104)]))
            self.draw.rectangle((x, base - bh, x + bw, base), fill=col)
            step_y, step_x = 30 * self.u, 26 * self.u
            yy = base - bh + step_y / 2
            while yy < base - step_y:
                xx = x + step_x / 2
                while xx < x + bw - step_x / 2:
                    on = self.rng.random() < lit_windows
                    colour = (255, 214, 140) if on else shade(col, 0.7)
                    if on and neon and self.rng.random() < 0.3:
                        colour = self.rng.choice([(255, 70, 200), (70, 220, 255)])
                    self.draw.rectangle((xx, yy, xx + step_x * 0.5, yy + step_y * 0.55), fill=colour)
                    xx += step_x
                yy += step_y
            x += bw + self.rng.uniform(4, 24) * self.u


def gradient(img: Image.Image, box: tuple[int, int, int, int], top: RGB, bottom: RGB) -> None:
    x0, y0, x1, y1 = (max(0, int(v)) for v in box)
    x1, y1 = min(img.width, x1), min(img.height, y1)
    if x1 <= x0 or y1 <= y0:
        return
    t = np.linspace(0.0, 1.0, y1 - y0, dtype=np.float32)[:, None, None]
    col = np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t
    img.paste(Image.fromarray(np.broadcast_to(col, (y1 - y0, x1 - x0, 3)).astype(np.uint8), "RGB"), (x0, y0))


# --- the kits --------------------------------------------------------------------------------


def kit_room(c: Canvas) -> None:
    c.wall((150, 132, 112), (110, 80, 56))
    c.window(0.16, 0.14, 0.38, 0.5, frame=(230, 226, 214))
    if c.wants("window") or c.rng.random() < 0.5:
        c.window(0.62, 0.14, 0.84, 0.5, frame=(230, 226, 214))
    else:
        c.painting(0.72, 0.3, 0.12)
    if c.wants("painting"):
        c.painting(0.5, 0.24, 0.08)
    if c.wants("clock"):
        c.clock(0.5, 0.12)
    if c.wants("fireplace"):
        c.fireplace(0.88, c.horizon)
    if c.wants("shelf") or c.wants("book"):
        c.shelf_of_books(0.02, 0.16, 0.12, 0.7)
    if c.wants("bed"):
        c.bed(0.62, 0.95, c.horizon - 0.08)
    c.lamp(0.5, 0.1)
    if c.wants("lamp"):
        c.lamp(0.9, 0.5, hanging=False)
    c.surface, c.surface_colour = "table", (110, 74, 46)


def kit_lamp_room(c: Canvas) -> None:
    """A lighthouse lamp room: glass all round, iron mullions, the great lens in the middle, sea beyond."""
    c.horizon = 0.76
    c.img.paste((32, 30, 34), (0, 0, c.w, c.h))
    panes = 6
    for i in range(panes):
        x0, x1 = i / panes, (i + 1) / panes

        def sea_view(b: tuple[int, int, int, int]) -> None:
            y = b[1] + (b[3] - b[1]) * 0.62
            top, _ = SKIES[(TimeOfDay.NIGHT if c.night else c.time, c.overcast)]
            c.draw.rectangle((b[0], y, b[2], b[3]), fill=mix(shade(top, 0.7), (16, 30, 44), 0.4))

        c.window(x0 + 0.004, 0.04, x1 - 0.004, c.horizon - 0.1, frame=(52, 54, 58), panes=1, outside=sea_view)
    # the great lens and its lamp
    cx, cy, r = 0.76 * c.w, 0.36 * c.h, 0.12 * c.h  # off to one side: never a halo behind the head
    c.draw.rectangle((cx - r * 0.5, cy + r * 0.9, cx + r * 0.5, c.horizon * c.h), fill=(60, 56, 50))
    c.draw.ellipse((cx - r, cy - r * 1.1, cx + r, cy + r * 1.1), fill=(210, 190, 120), outline=(120, 100, 60),
                   width=max(2, round(6 * c.u)))
    for k in range(1, 4):
        c.draw.ellipse((cx - r * k / 4, cy - r * 1.1 * k / 4, cx + r * k / 4, cy + r * 1.1 * k / 4),
                       outline=(255, 240, 190), width=max(1, round(3 * c.u)))
    c.lights.append(Light(cx, cy, r * 5, (255, 230, 160), 0.85))
    c.draw.rectangle((0, c.horizon * c.h - 0.1 * c.h, c.w, c.horizon * c.h), fill=(70, 60, 50))  # the sill wall
    gradient(c.img, (0, int(c.horizon * c.h), c.w, c.h), (88, 70, 54), (54, 42, 32))
    c.surface, c.surface_colour = "table", (120, 84, 52)


def kit_lighthouse(c: Canvas) -> None:
    c.horizon = 0.6
    c.sky()
    c.sea(0.58)
    rock = c.lit((70, 66, 62))
    c.draw.polygon([(0, c.h), (0, 0.64 * c.h), (0.2 * c.w, 0.6 * c.h), (0.42 * c.w, 0.66 * c.h), (0.5 * c.w, c.h)],
                   fill=rock)
    tx, base, top = 0.2 * c.w, 0.62 * c.h, 0.12 * c.h
    c.draw.polygon([(tx - 36 * c.u, base), (tx + 36 * c.u, base), (tx + 22 * c.u, top), (tx - 22 * c.u, top)],
                   fill=c.lit((236, 232, 222)))
    for k in range(3):
        y = top + (base - top) * (0.25 + 0.25 * k)
        c.draw.rectangle((tx - 30 * c.u, y, tx + 30 * c.u, y + 18 * c.u), fill=c.lit((170, 40, 40)))
    c.draw.rectangle((tx - 26 * c.u, top - 40 * c.u, tx + 26 * c.u, top), fill=(255, 226, 150))
    c.draw.polygon([(tx - 30 * c.u, top - 40 * c.u), (tx + 30 * c.u, top - 40 * c.u), (tx, top - 70 * c.u)],
                   fill=c.lit((40, 40, 44)))
    c.lights.append(Light(tx, top - 20 * c.u, 180 * c.u, (255, 230, 160), 0.9))
    c.exterior_beam = (tx / c.w, (top - 20 * c.u) / c.h)
    if c.wants("boat"):
        c.boat(0.72, 0.63 * c.h, 0.8)
    c.surface, c.surface_colour = "rail", (60, 60, 64)


def kit_harbour(c: Canvas) -> None:
    c.horizon = 0.5
    c.sky()
    c.buildings(0.5 * c.h, lit_windows=0.5 if c.night else 0.1, neon=False)
    c.sea(0.5, 0.78)
    n = max(2, min(6, c.props.get("boat", 3)))
    for i in range(n):
        c.boat(0.12 + 0.76 * i / max(1, n - 1), (0.58 + 0.06 * (i % 2)) * c.h, 1.0 + 0.2 * (i % 2))
    c.ground((110, 104, 96), 0.78)  # the quay
    for i in range(6):
        x = (0.08 + i * 0.17) * c.w
        c.draw.rectangle((x - 8 * c.u, 0.76 * c.h, x + 8 * c.u, 0.8 * c.h), fill=c.lit((40, 40, 44)))
    c.streetlamp(0.06 * c.w, 0.8 * c.h)
    c.streetlamp(0.94 * c.w, 0.8 * c.h)
    c.surface, c.surface_colour = "rail", (70, 70, 74)


def kit_beach(c: Canvas) -> None:
    c.horizon = 0.52
    c.sky()
    c.sea(0.52, 0.7)
    sand = (206, 184, 140) if c.weather not in (Weather.RAIN, Weather.STORM) else (150, 136, 110)
    c.ground(sand, 0.7)
    for _ in range(4):  # the wash of the waves
        y = c.rng.uniform(0.69, 0.74) * c.h
        c.draw.arc((c.rng.uniform(-0.2, 0.8) * c.w, y - 10 * c.u, c.rng.uniform(0.3, 1.3) * c.w, y + 16 * c.u),
                   0, 180, fill=c.lit((236, 240, 240)), width=max(1, round(3 * c.u)))
    for i in range(c.props.get("boat", 0)):
        c.boat(0.2 + 0.25 * i, 0.56 * c.h, 0.6)
    if c.wants("umbrella"):
        x = 0.8 * c.w
        c.draw.line((x, 0.6 * c.h, x, 0.82 * c.h), fill=c.lit((80, 70, 60)), width=max(2, round(4 * c.u)))
        c.draw.pieslice((x - 80 * c.u, 0.55 * c.h, x + 80 * c.u, 0.65 * c.h), 180, 360, fill=c.lit((210, 70, 60)))
    c.surface, c.surface_colour = "log", (120, 100, 80)


def kit_ship(c: Canvas) -> None:
    c.horizon = 0.55
    c.sky()
    c.sea(0.55, 1.0)
    c.surface, c.surface_colour = "rail", (110, 80, 50)


def kit_forest(c: Canvas) -> None:
    c.horizon = 0.66
    c.sky()
    c.ground((70, 96, 56))
    green = (46, 86, 52) if c.weather != Weather.SNOW else (60, 80, 70)
    for depth in range(3):
        for _ in range(18 - depth * 4):
            x = c.rng.uniform(-0.05, 1.05) * c.w
            height = (0.28 + depth * 0.16) * c.h * c.rng.uniform(0.8, 1.2)
            c.tree(x, c.horizon * c.h + depth * 30 * c.u, height, shade(green, 0.7 + 0.15 * depth),
                   pine=c.rng.random() < 0.7)
    c.surface, c.surface_colour = "log", (92, 70, 50)


def kit_field(c: Canvas) -> None:
    c.horizon = 0.6
    c.sky()
    c.ridges(0.6, (96, 130, 84), 3, 0.08)
    c.ground((104, 144, 80))
    for _ in range(5):
        c.tree(c.rng.uniform(0, 1) * c.w, c.horizon * c.h + 4 * c.u, c.rng.uniform(0.12, 0.22) * c.h, (60, 110, 60),
               pine=False)
    if c.wants("bench"):
        x, y = 0.78 * c.w, 0.76 * c.h
        c.draw.rectangle((x - 70 * c.u, y - 30 * c.u, x + 70 * c.u, y - 20 * c.u), fill=c.lit((120, 90, 60)))
        c.draw.rectangle((x - 70 * c.u, y - 10 * c.u, x + 70 * c.u, y), fill=c.lit((120, 90, 60)))
    if c.wants("campfire"):
        c.fireplace(0.8, 0.82)
    c.surface, c.surface_colour = "wall", (140, 130, 116)


def kit_mountain(c: Canvas) -> None:
    c.horizon = 0.64
    c.sky()
    c.ridges(0.62, (96, 100, 110), 6, 0.38, layers=3, snow=True)
    c.ground((110, 104, 96))
    c.surface, c.surface_colour = "rock", (104, 98, 92)


def kit_desert(c: Canvas) -> None:
    c.horizon = 0.62
    c.sky()
    c.ridges(0.62, (214, 170, 110), 4, 0.1, layers=2)
    c.ground((222, 186, 130))
    c.surface, c.surface_colour = "rock", (170, 120, 80)


def kit_street(c: Canvas) -> None:
    c.horizon = 0.74
    c.sky()
    neon = c.lighting == Lighting.NEON or c.wants("sign")
    c.buildings(0.74 * c.h, lit_windows=0.55 if c.night else 0.12, neon=neon)
    c.ground((70, 70, 76))
    c.draw.rectangle((0, 0.74 * c.h, c.w, 0.77 * c.h), fill=c.lit((120, 120, 124)))  # the kerb
    for x in (0.1, 0.5, 0.9):
        c.streetlamp(x * c.w, 0.76 * c.h)
    if neon:
        c.neon_sign(0.3 * c.w, 0.36 * c.h, (255, 60, 200))
        c.neon_sign(0.72 * c.w, 0.3 * c.h, (60, 220, 255))
    c.surface, c.surface_colour = "rail", (40, 40, 44)


def kit_cafe(c: Canvas) -> None:
    c.wall((120, 92, 70), (90, 62, 44), horizon=0.7)
    c.window(0.04, 0.1, 0.4, 0.56, frame=(60, 44, 32), panes=3,
             outside=lambda b: c.draw.rectangle((b[0], b[1] + (b[3] - b[1]) * 0.55, b[2], b[3]),
                                                fill=c.lit((70, 70, 76))))
    c.draw.rectangle(c.box(0.5, 0.16, 0.98, 0.2), fill=c.lit((70, 48, 32)))  # shelves of bottles and cups
    c.draw.rectangle(c.box(0.5, 0.34, 0.98, 0.38), fill=c.lit((70, 48, 32)))
    for row in (0.16, 0.34):
        for i in range(12):
            x = (0.52 + i * 0.038) * c.w
            col = c.lit(c.rng.choice([(60, 120, 70), (140, 60, 40), (200, 190, 170), (90, 70, 140)]))
            c.draw.rectangle((x, row * c.h - 40 * c.u, x + 14 * c.u, row * c.h), fill=col)
    c.draw.rectangle(c.box(0.48, 0.5, 1.0, 0.7), fill=c.lit((100, 66, 40)))  # the counter
    for x in (0.56, 0.74, 0.92):
        c.lamp(x, 0.3)
    if c.lighting == Lighting.NEON or c.wants("sign"):
        c.neon_sign(0.22 * c.w, 0.66 * c.h, (255, 70, 200))
    c.surface, c.surface_colour = "table", (90, 60, 40)


def kit_bedroom(c: Canvas) -> None:
    c.wall((150, 140, 160), (120, 96, 80))
    c.window(0.08, 0.14, 0.3, 0.5, frame=(236, 232, 226))
    c.bed(0.45, 0.98, c.horizon - 0.12)
    c.lamp(0.38, 0.52, hanging=False)
    if c.wants("painting") or c.rng.random() < 0.5:
        c.painting(0.72, 0.28, 0.12)
    c.surface, c.surface_colour = "bed", (200, 190, 214)


def kit_library(c: Canvas) -> None:
    c.wall((110, 84, 62), (96, 66, 44))
    for x0 in (0.0, 0.2, 0.62, 0.82):
        c.shelf_of_books(x0 + 0.01, 0.06, x0 + 0.18, 0.7, rows=6)
    c.window(0.41, 0.1, 0.59, 0.48, frame=(70, 50, 34))
    c.lamp(0.5, 0.56, hanging=False, colour=(255, 210, 140))
    c.surface, c.surface_colour = "table", (100, 66, 40)


def kit_rooftop(c: Canvas) -> None:
    c.horizon = 0.7
    c.sky()
    c.buildings(0.72 * c.h, lit_windows=0.6 if c.night else 0.1, neon=c.lighting == Lighting.NEON)
    c.ground((90, 86, 84), 0.72)
    for i in range(9):  # string lights
        x = (0.05 + i * 0.11) * c.w
        c.draw.ellipse((x - 5 * c.u, 0.22 * c.h - 5 * c.u, x + 5 * c.u, 0.22 * c.h + 5 * c.u), fill=(255, 220, 150))
        if c.night:
            c.lights.append(Light(x, 0.22 * c.h, 50 * c.u, (255, 210, 140), 0.5))
    c.surface, c.surface_colour = "wall", (120, 110, 104)


def kit_train(c: Canvas) -> None:
    c.wall((96, 90, 84), (60, 56, 54), horizon=0.74, boards=False)

    def landscape(b: tuple[int, int, int, int]) -> None:
        y = b[1] + (b[3] - b[1]) * 0.6
        c.draw.rectangle((b[0], y, b[2], b[3]), fill=c.lit((80, 110, 70)))
        for _ in range(4):
            x = c.rng.uniform(b[0], b[2])
            c.draw.ellipse((x - 30 * c.u, y - 40 * c.u, x + 30 * c.u, y + 10 * c.u), fill=c.lit((50, 90, 60)))

    for x0 in (0.06, 0.38, 0.7):
        c.window(x0, 0.12, x0 + 0.24, 0.5, frame=(150, 150, 150), panes=1, outside=landscape)
    c.draw.rectangle(c.box(0, 0.52, 1, 0.56), fill=c.lit((140, 40, 40)))
    c.surface, c.surface_colour = "table", (150, 140, 130)


def kit_car(c: Canvas) -> None:
    c.img.paste(c.lit((30, 30, 34)), (0, 0, c.w, c.h))

    def road(b: tuple[int, int, int, int]) -> None:
        y = b[1] + (b[3] - b[1]) * 0.55
        c.draw.rectangle((b[0], y, b[2], b[3]), fill=c.lit((60, 60, 64)))
        mid = (b[0] + b[2]) / 2
        c.draw.polygon([(mid - 4 * c.u, y), (mid + 4 * c.u, y), (mid + 30 * c.u, b[3]), (mid - 30 * c.u, b[3])],
                       fill=c.lit((220, 210, 120)))

    c.window(0.06, 0.08, 0.94, 0.56, frame=(30, 30, 34), panes=1, outside=road)
    c.horizon = 0.7
    c.surface, c.surface_colour = "dashboard", (40, 40, 44)


def kit_spaceship(c: Canvas) -> None:
    c.wall((90, 100, 112), (60, 64, 72), horizon=0.74, boards=False)
    for x in (0.3, 0.7):
        r = 0.16
        b = c.box(x - r * 0.56, 0.14, x + r * 0.56, 0.14 + r)
        c.draw.ellipse(b, fill=(4, 6, 16))
        box = tuple(int(v) for v in b)
        saved_night = c.time
        c.time = TimeOfDay.NIGHT
        c.stars(box)
        c.time = saved_night
        c.draw.ellipse(b, outline=c.lit((160, 170, 180)), width=max(2, round(10 * c.u)))
    for i in range(8):
        x = (0.06 + i * 0.12) * c.w
        c.draw.rectangle((x, 0.58 * c.h, x + 40 * c.u, 0.62 * c.h), fill=c.rng.choice([(80, 220, 255), (255, 180, 60)]))
    c.lights.append(Light(0.5 * c.w, 0.05 * c.h, 400 * c.u, (170, 210, 255), 0.5))
    c.surface, c.surface_colour = "console", (70, 76, 86)


KITS: dict[str, Callable[[Canvas], None]] = {
    "room": kit_room, "lamp_room": kit_lamp_room, "lighthouse": kit_lighthouse, "harbour": kit_harbour,
    "beach": kit_beach, "ship": kit_ship, "forest": kit_forest, "field": kit_field, "mountain": kit_mountain,
    "desert": kit_desert, "street": kit_street, "cafe": kit_cafe, "bedroom": kit_bedroom, "library": kit_library,
    "rooftop": kit_rooftop, "train": kit_train, "car": kit_car, "spaceship": kit_spaceship,
}


def background(kit: str, *, size: tuple[int, int], time: TimeOfDay, weather: Weather, lighting: Lighting,
               props: dict[str, int], rng: random.Random) -> Canvas:
    """The kit drawn on a canvas of ``size``, with its lights glowing."""
    canvas = Canvas(size, time, weather, lighting, rng, props)
    KITS.get(kit, kit_room)(canvas)
    if canvas.lights:
        canvas.img = glow(canvas.img, canvas.lights)
    return canvas


def glow(img: Image.Image, lights: list[Light], *, scale: float = 0.25) -> Image.Image:
    """Additive soft light around each source (computed on a small copy, then blurred up)."""
    w, h = img.size
    sw, sh = max(4, int(w * scale)), max(4, int(h * scale))
    y, x = np.mgrid[0:sh, 0:sw].astype(np.float32)
    acc = np.zeros((sh, sw, 3), np.float32)
    for light in lights:
        d2 = ((x - light.x * scale) ** 2 + (y - light.y * scale) ** 2) / max(1.0, (light.radius * scale) ** 2)
        fall = np.exp(-d2 * 2.2) * light.strength
        acc += fall[..., None] * np.asarray(light.colour, np.float32)[None, None]
    add = Image.fromarray(np.clip(acc, 0, 255).astype(np.uint8), "RGB").resize((w, h), Image.Resampling.BILINEAR)
    return Image.fromarray(np.minimum(255, np.asarray(img, np.uint16) + np.asarray(add, np.uint16)).astype(np.uint8))
