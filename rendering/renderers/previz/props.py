"""What stands in front of the persona (a table, a rail, a log, a wall) and the small props on it.

The surface hides the bottom of the bust cut from the portrait, so the figure
reads as someone at a table or behind a rail rather than a pasted card; the
props the beat names stand along its top edge, spread out from the persona
(mugs pinning the corners of a chart when there is one, candles and lamps
with their light).
"""

from __future__ import annotations

import math
import random

from PIL import Image, ImageDraw

from rendering.renderers.previz.kits import RGB, Light, SafeDraw, shade


def surface_layer(kind: str, colour: RGB, *, size: tuple[int, int], top: int, props: dict[str, int],
                  rng: random.Random, ambient: float, figure_box: tuple[int, int, int, int]
                  ) -> tuple[Image.Image, list[Light]]:
    """What stands in front of the persona (``kind``) from ``top`` down, with the small props on it.

    Returns the RGBA layer and the lights on it (lamps, candles) in its coordinates.
    """
    w, h = size
    img = Image.new("RGBA", size, (0, 0, 0, 0))
    d = SafeDraw(img)
    col = shade(colour, ambient)
    u = max(0.5, (figure_box[3] - figure_box[1]) / 300)
    lights: list[Light] = []
    if kind in ("table", "console", "dashboard", "bed"):
        depth = 44 * u  # the top, seen from a little above, then its front edge and face
        for k in range(8):
            y0 = top + depth * k / 8
            d.rectangle((0, y0, w, y0 + depth / 8 + 1), fill=(*shade(col, 1.0 + 0.03 * k), 255))
        for _ in range(int(w / (90 * u))):  # grain
            x, y = rng.uniform(0, w), rng.uniform(top + 4 * u, top + depth - 4 * u)
            d.line((x, y, x + rng.uniform(40, 160) * u, y), fill=(*shade(col, 0.88), 255), width=max(1, round(u)))
        d.rectangle((0, top + depth, w, top + depth + 8 * u), fill=(*shade(col, 1.35), 255))
        d.rectangle((0, top + depth + 8 * u, w, h), fill=(*shade(col, 0.5), 255))
        for x in range(0, w, max(8, int(140 * u))):
            d.line((x, top + depth + 8 * u, x, h), fill=(*shade(col, 0.42), 255), width=max(1, round(2 * u)))
        if kind == "console":
            for i in range(int(w / (60 * u))):
                x = i * 60 * u + 10 * u
                d.rectangle((x, top + 30 * u, x + 24 * u, top + 40 * u),
                            fill=(*rng.choice([(80, 220, 255), (255, 160, 60), (120, 255, 140)]), 255))
    elif kind == "rail":
        d.rectangle((0, top, w, top + 12 * u), fill=(*shade(col, 1.2), 255))
        for x in range(0, w, max(4, int(48 * u))):
            d.rectangle((x, top, x + 8 * u, h), fill=(*col, 255))
        d.rectangle((0, top + 44 * u, w, top + 54 * u), fill=(*col, 255))
        d.rectangle((0, top + 54 * u, w, h), fill=(*shade(col, 0.7), 255))  # the wall under the rail: solid
    elif kind == "log":
        d.rounded_rectangle((-40, top, w + 40, top + 90 * u), radius=int(40 * u), fill=(*col, 255))
        for _ in range(int(w / (80 * u))):
            x = rng.uniform(0, w)
            d.arc((x, top + 20 * u, x + 60 * u, top + 60 * u), 200, 340, fill=(*shade(col, 0.7), 255),
                  width=max(1, round(3 * u)))
        d.rectangle((0, top + 80 * u, w, h), fill=(*shade(col, 0.6), 255))
    elif kind in ("wall", "rock"):
        d.rectangle((0, top + 2, w, h), fill=(*shade(col, 0.55), 255))  # mortar: nothing shows between stones
        y = top
        row = 0
        while y < h:
            bh = (40 if kind == "wall" else rng.uniform(40, 70)) * u
            x = -((row % 2) * 40 * u)
            while x < w:
                bw = (80 if kind == "wall" else rng.uniform(60, 160)) * u
                stone = shade(col, rng.uniform(0.8, 1.1))
                d.rounded_rectangle((x + 2, y + 2, x + bw - 2, y + bh - 2), radius=int(8 * u), fill=(*stone, 255))
                x += bw
            y += bh
            row += 1
    else:
        d.rectangle((0, top, w, h), fill=(*col, 255))
    lights += _props_on(d, props, top=top, width=w, u=u, rng=rng, centre=(figure_box[0] + figure_box[2]) / 2)
    return img, lights


SMALL_PROPS = ("chart", "letter", "campfire", "mug", "glass", "bottle", "candle", "lamp", "lantern", "book", "plant",
               "telescope", "guitar")


def _props_on(d: ImageDraw.ImageDraw, props: dict[str, int], *, top: int, width: int, u: float,
              rng: random.Random, centre: float) -> list[Light]:
    """Small props along the surface's top edge, spread out from the persona; returns their lights."""
    lights: list[Light] = []
    y = top + 26 * u  # standing on the surface, a little back from its front edge
    slots = [centre + k * 120 * u for k in (-1.6, 1.6, -2.8, 2.8, -4.0, 4.0, -5.2, 5.2)]
    slot = 0
    if "chart" in props or "letter" in props:
        cw = 260 * u
        x0 = centre - cw / 2
        paper = (228, 214, 180) if "chart" in props else (240, 236, 226)
        d.polygon([(x0, y + 2 * u), (x0 + cw, y + 2 * u), (x0 + cw + 30 * u, y + 14 * u), (x0 - 30 * u, y + 14 * u)],
                  fill=(*paper, 255))
        for k in range(4):
            lx = x0 + 20 * u + k * 50 * u
            d.line((lx, y + 4 * u, lx + 40 * u, y + 12 * u), fill=(90, 120, 150, 255),
                   width=max(1, round(2 * u)))
        if "mug" in props:  # mugs holding the chart flat at its corners
            corners = [x0, x0 + cw, x0 + cw * 0.33, x0 + cw * 0.66]
            for k in range(min(props["mug"], 4)):
                _mug(d, corners[k], y + 4 * u, u, rng)
            props = {**props, "mug": max(0, props["mug"] - 4)}
    for name in SMALL_PROPS:
        count = props.get(name, 0)
        if name in ("chart", "letter") or not count:
            continue
        for _ in range(min(count, 4)):
            if slot >= len(slots):
                return lights
            x = slots[slot]
            slot += 1
            if name == "mug":
                _mug(d, x, y, u, rng)
            elif name == "glass":
                d.polygon([(x - 10 * u, y - 40 * u), (x + 10 * u, y - 40 * u), (x + 4 * u, y - 18 * u),
                           (x - 4 * u, y - 18 * u)], fill=(200, 220, 230, 190))
                d.rectangle((x - 1.5 * u, y - 18 * u, x + 1.5 * u, y - 4 * u), fill=(200, 220, 230, 220))
                d.rectangle((x - 9 * u, y - 4 * u, x + 9 * u, y), fill=(200, 220, 230, 220))
            elif name == "bottle":
                d.rectangle((x - 11 * u, y - 60 * u, x + 11 * u, y), fill=(40, 90, 60, 255))
                d.rectangle((x - 4 * u, y - 84 * u, x + 4 * u, y - 60 * u), fill=(40, 90, 60, 255))
            elif name == "candle":
                d.rectangle((x - 6 * u, y - 46 * u, x + 6 * u, y), fill=(240, 234, 214, 255))
                d.ellipse((x - 5 * u, y - 64 * u, x + 5 * u, y - 46 * u), fill=(255, 200, 90, 255))
                lights.append(Light(x, y - 55 * u, 120 * u, (255, 170, 80), 0.7))
            elif name in ("lamp", "lantern"):
                if name == "lamp":
                    d.rectangle((x - 4 * u, y - 60 * u, x + 4 * u, y), fill=(60, 50, 40, 255))
                    d.polygon([(x - 34 * u, y - 60 * u), (x + 34 * u, y - 60 * u), (x + 20 * u, y - 100 * u),
                               (x - 20 * u, y - 100 * u)], fill=(250, 220, 160, 255))
                    lights.append(Light(x, y - 75 * u, 220 * u, (255, 200, 130), 0.75))
                else:
                    d.rectangle((x - 16 * u, y - 56 * u, x + 16 * u, y), fill=(50, 44, 36, 255))
                    d.rectangle((x - 11 * u, y - 50 * u, x + 11 * u, y - 6 * u), fill=(255, 196, 100, 255))
                    d.arc((x - 12 * u, y - 76 * u, x + 12 * u, y - 50 * u), 180, 360, fill=(50, 44, 36, 255),
                          width=max(1, round(3 * u)))
                    lights.append(Light(x, y - 30 * u, 200 * u, (255, 180, 90), 0.75))
            elif name == "book":
                for k in range(3):
                    col = rng.choice([(140, 40, 40), (40, 70, 120), (60, 100, 60), (150, 120, 60)])
                    d.rectangle((x - 36 * u + k * 4 * u, y - 14 * u * (k + 1), x + 36 * u - k * 6 * u, y - 14 * u * k),
                                fill=(*col, 255))
            elif name == "plant":
                d.polygon([(x - 16 * u, y - 30 * u), (x + 16 * u, y - 30 * u), (x + 11 * u, y), (x - 11 * u, y)],
                          fill=(170, 90, 60, 255))
                for k in range(5):
                    a = math.pi * (0.15 + 0.7 * k / 4)
                    d.ellipse((x + math.cos(a) * 30 * u - 10 * u, y - 30 * u - math.sin(a) * 40 * u - 10 * u,
                               x + math.cos(a) * 30 * u + 10 * u, y - 30 * u - math.sin(a) * 40 * u + 10 * u),
                              fill=(*rng.choice([(220, 80, 90), (250, 200, 80), (90, 160, 80)]), 255))
            elif name == "campfire":
                for k in range(3):  # logs, then flames
                    d.line((x - 40 * u, y - 4 * u + k * 3 * u, x + 40 * u, y - 10 * u - k * 3 * u),
                           fill=(90, 60, 40, 255), width=max(2, round(8 * u)))
                for k, (fw, fh, col) in enumerate(((34, 70, (255, 120, 30)), (22, 52, (255, 190, 60)),
                                                    (10, 30, (255, 240, 170)))):
                    d.polygon([(x - fw * u, y - 8 * u), (x + fw * u, y - 8 * u), (x + 4 * u * (k - 1), y - fh * u)],
                              fill=(*col, 255))
                lights.append(Light(x, y - 30 * u, 260 * u, (255, 140, 60), 0.85))
            elif name == "telescope":
                d.line((x - 50 * u, y - 10 * u, x + 50 * u, y - 40 * u), fill=(170, 130, 60, 255),
                       width=max(2, round(12 * u)))
            elif name == "guitar":
                d.ellipse((x - 30 * u, y - 60 * u, x + 30 * u, y), fill=(170, 100, 50, 255))
                d.rectangle((x - 5 * u, y - 140 * u, x + 5 * u, y - 50 * u), fill=(90, 60, 30, 255))
    return lights


def _mug(d: ImageDraw.ImageDraw, x: float, y: float, u: float, rng: random.Random) -> None:
    col = rng.choice([(200, 80, 60), (60, 110, 160), (230, 226, 214), (90, 140, 90)])
    d.rectangle((x - 14 * u, y - 34 * u, x + 14 * u, y), fill=(*col, 255))
    d.arc((x + 8 * u, y - 28 * u, x + 26 * u, y - 8 * u), 270, 90, fill=(*col, 255), width=max(1, round(4 * u)))
    d.ellipse((x - 14 * u, y - 38 * u, x + 14 * u, y - 30 * u), fill=(*shade(col, 0.6), 255))
