"""CPU previz: an animatic of the beat, fast and deterministic per seed.

Read top to bottom, ``previz_plan`` builds everything once per clip:

1. the place kit for the setting (``kits``): sky or walls, windows, scenery, big
   props, light sources, graded by the lighting;
2. the persona cut from its portrait (``figure``), sized for the framing and the
   camera move so it stays inside the frame in every frame (``camera``), behind
   the kit's surface (a table, a rail, a log) carrying the small props the beat
   names (mugs, a chart, candles...);
3. weather and light layers (``layers``): rain, snow, fog, wind as moving
   particles (indoors seen through the windows), lightning flashes and a bolt
   for storms, a sweeping lighthouse beam, candle flicker, lamp glow;
4. the spoken line as a subtitle band placed where the face never is.

Then each frame is a few crops, scaled pastes and alpha composites: the camera
move is real 2D camera motion with parallax between the layers. Remix notes
(``beat.notes``) are read for weather, time-of-day and prop words, so a Remix
"light rain" rains even on a beat built elsewhere.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from rendering.beat import Lighting, SceneBeat, TimeOfDay, Weather
from rendering.errors import RenderCancelled
from rendering.renderers import scenery
from rendering.renderers.base import (
    CancelledFn,
    PreviewFn,
    ProgressFn,
    RenderContext,
    RenderedClip,
    Renderer,
    preview_hook,
)
from rendering.renderers.previz import kits, layers
from rendering.renderers.previz import props as surfaces
from rendering.renderers.previz.camera import (
    MARGIN,
    Pose,
    SubjectPlace,
    camera_pose,
    composite,
    subject_track,
    view,
)
from rendering.renderers.previz.figure import figure_for

__all__ = ["PrevizPlan", "PrevizRenderer", "camera_pose", "previz_plan"]

OVERSCAN = 1.5  # the background is drawn larger than the frame so the camera can move without showing edges
SURFACE_AT = 0.8  # the surface's top edge, as a share of the figure's height from its top
NIGHT_LIGHTINGS = (Lighting.MOONLIGHT, Lighting.RAINY_NIGHT, Lighting.NEON)


def _rng(*parts: object) -> random.Random:
    # zlib.crc32, not hash(): Python salts str hashes per process and the result must be reproducible.
    return random.Random(zlib.crc32("|".join(map(str, parts)).encode()))


@dataclass
class PrevizPlan:
    """Everything a clip is drawn from, and what the tests inspect (kit, layers, subject and face boxes)."""

    kit: str
    time: TimeOfDay
    weather: Weather
    lighting: Lighting
    props: dict[str, int]
    layers: list[str]
    subject: list[SubjectPlace]
    band: tuple[int, int] | None
    subtitle: list[str]
    flashes: dict[int, float]
    size: tuple[int, int]
    poses: list[Pose] = field(repr=False, default_factory=list)
    background: Image.Image | None = field(repr=False, default=None)
    background_flash: Image.Image | None = field(repr=False, default=None)
    window_mask: Image.Image | None = field(repr=False, default=None)
    # the persona and the surface in front of her, as crops of one layer (less to resample per frame),
    # each with the point of it that sits at the subject's centre
    subject_parts: list[tuple[Image.Image, tuple[float, float]]] = field(repr=False, default_factory=list)
    far: list[layers.Particles] = field(repr=False, default_factory=list)
    near: list[layers.Particles] = field(repr=False, default_factory=list)
    beam: tuple[float, float] | None = None
    flicker: float = 0.0
    band_image: Image.Image | None = field(repr=False, default=None)


def scene_terms(beat: SceneBeat) -> tuple[str, TimeOfDay, Weather, dict[str, int]]:
    """(kit, time of day, weather, props) for a beat, its Remix notes taken into account.

    Beats stored before time_of_day/weather existed get them from the lighting and the setting's words.
    """
    notes = beat.notes or ""
    kit = scenery.place_kit(beat.setting)
    time = scenery.time_in(notes) or beat.time_of_day
    if time == TimeOfDay.DAY and not scenery.time_in(notes):
        if beat.lighting in NIGHT_LIGHTINGS or scenery.time_in(beat.setting) == TimeOfDay.NIGHT:
            time = TimeOfDay.NIGHT
        elif beat.lighting == Lighting.GOLDEN_HOUR:
            time = TimeOfDay.DUSK
    weather = scenery.weather_in(notes) or beat.weather
    if weather == Weather.CLEAR and not scenery.weather_in(notes):
        weather = scenery.weather_in(beat.setting) or (Weather.RAIN if beat.lighting == Lighting.RAINY_NIGHT
                                                       else Weather.CLEAR)
    props: dict[str, int] = {}
    for text in (*beat.props, beat.action, notes):
        for name, count in scenery.props_in(text):
            props[name] = max(props.get(name, 0), count)
    return kit, time, weather, props


def previz_plan(ctx: RenderContext) -> PrevizPlan:
    beat = ctx.beat
    w, h = ctx.width, ctx.height
    total = ctx.frame_count
    kit, time, weather, props = scene_terms(beat)
    rng = _rng(beat.seed, beat.setting, "scene")
    names = ["background"]

    # 1. the place
    canvas = kits.background(kit, size=(int(w * OVERSCAN), int(h * OVERSCAN)), time=time, weather=weather,
                             lighting=beat.lighting, props=props, rng=rng)
    background = layers.grade(canvas.img, beat.lighting).filter(ImageFilter.GaussianBlur(0.7 * h / 480))
    background.paste((0, 0, 0), (0, 0, *background.size), layers.vignette(*background.size))  # moves with the set
    indoor = bool(canvas.windows) and scenery.is_indoor_kit(kit)

    # 2. the persona, sized and placed for the move; the subtitle band where the face is not
    poses = [camera_pose(beat.camera, i / max(1, total - 1), beat.seed) for i in range(total)]
    tone = kits.SKIES[(time, canvas.overcast)][1]
    probe = figure_for(ctx.portrait_path, height=200, seed=beat.seed, tone=tone)
    aspect = probe.image.width / probe.image.height
    font = layers.subtitle_font(h)
    lines = layers.subtitle_lines(beat.speech, int(w * 0.9), font) if beat.speech.strip() else []
    band = None
    base_h, places = subject_track(poses, size=(w, h), framing=beat.framing, aspect=aspect, face=probe.face,
                                   band=None)
    if lines:
        band_h = layers.band_height(h, len(lines))
        gap = int(MARGIN * h)
        for rows in ((h - band_h - gap, h - gap), (gap, gap + band_h)):
            base_h, places = subject_track(poses, size=(w, h), framing=beat.framing, aspect=aspect,
                                           face=probe.face, band=rows)
            if all(not p.face.overlaps_rows(*rows) for p in places):
                band = rows
                break
        names.append("subtitle")
    figure = figure_for(ctx.portrait_path, height=max(8, round(base_h)), seed=beat.seed, tone=tone)
    parts, surface_lights = _subject_layer(figure.image, canvas, props, (w, h), rng, beat.lighting)
    names.append("subject")
    if surface_lights or canvas.lights:
        names.append("lamp_glow")

    # 3. weather and light
    plan = PrevizPlan(kit=kit, time=time, weather=weather, lighting=beat.lighting, props=props, layers=names,
                      subject=places, band=band, subtitle=lines, flashes={}, size=(w, h), poses=poses,
                      background=background, subject_parts=parts)
    _weather(plan, canvas, _rng(beat.seed, "weather"), indoor=indoor)
    if canvas.exterior_beam is not None and time == TimeOfDay.NIGHT:
        plan.beam = canvas.exterior_beam
        names.append("beam")
    if beat.lighting in (Lighting.CANDLELIGHT, Lighting.FIRELIGHT) or "candle" in props or "campfire" in props:
        plan.flicker = 0.035
        names.append("flicker")
    if lines and band is not None:
        plan.band_image = layers.subtitle_band(w, h, lines)
    return plan


def _subject_layer(figure: Image.Image, canvas: kits.Canvas, props: dict[str, int], size: tuple[int, int],
                   rng: random.Random, lighting: Lighting
                   ) -> tuple[list[tuple[Image.Image, tuple[float, float]]], list[kits.Light]]:
    """The figure with the kit's surface in front of it (and the small props on the surface).

    Returned as two crops of one layer, the figure above the surface and the surface with its props,
    each with its anchor (the figure's centre in the crop's coordinates), and the lights on the surface.
    """
    w, h = size
    fw, fh = figure.size
    lw, lh = int(w * 2.6), int(max(fh * 2.4, h * 1.7))
    pad = int(h * 0.05)
    left = lw // 2 - fw // 2
    layer = Image.new("RGBA", (lw, lh), (0, 0, 0, 0))
    exposure = 0.72 + 0.28 * canvas.ambient if lighting != Lighting.STUDIO else 1.0
    layer.paste(layers.grade(figure, lighting, exposure=exposure), (left, pad))
    top = pad + int(fh * SURFACE_AT)
    surface, lights = surfaces.surface_layer(canvas.surface, canvas.surface_colour, size=(lw, lh), top=top, props=props,
                                         rng=rng, ambient=canvas.ambient, figure_box=(left, pad, left + fw, pad + fh))
    layer.alpha_composite(layers.grade(surface, lighting))
    if lights:
        alpha = layer.getchannel("A")
        layer = kits.glow(layer.convert("RGB"), lights)
        layer.putalpha(alpha)
    cx, cy = lw / 2, pad + fh / 2
    props_top = max(0, top - int(fh * 0.45))  # lamps and bottles stand up to this far above the surface
    figure_part = layer.crop((left - 2, 0, left + fw + 2, top))
    surface_part = layer.crop((0, props_top, lw, lh))
    return [(figure_part, (cx - (left - 2), cy)), (surface_part, (cx, cy - props_top))], lights


def _weather(plan: PrevizPlan, canvas: kits.Canvas, rng: random.Random, *, indoor: bool) -> None:
    w, h = plan.size
    size = (w, h)
    weather = plan.weather
    if indoor:
        mask = Image.new("L", canvas.size, 0)
        d = ImageDraw.Draw(mask)
        for b in canvas.windows:
            d.rectangle(b, fill=255)
        plan.window_mask = mask
    if weather in (Weather.RAIN, Weather.STORM):
        storm = weather == Weather.STORM
        slant = 0.35 if storm else 0.08
        far = layers.rain(size, rng, near=False, heavy=storm, slant=slant)
        if indoor:
            plan.far.append(far)  # seen through the windows
        else:
            plan.near += [far, layers.rain(size, rng, near=True, heavy=storm, slant=slant)]
        plan.layers.append("rain")
        if storm:
            plan.flashes = layers.lightning_frames(len(plan.poses), rng)
            plan.layers.append("lightning")
            sky = canvas.sky_box or (canvas.windows[0] if canvas.windows else (0, 0, canvas.w, canvas.h // 2))
            bolt = layers.bolt(canvas.size, rng, sky)
            if plan.window_mask is not None:
                bolt.putalpha(ImageChops.multiply(bolt.getchannel("A"), plan.window_mask))
            flash_bg = plan.background.copy()
            flash_bg.paste(bolt, (0, 0), bolt)
            plan.background_flash = flash_bg
            (plan.far if indoor else plan.near).append(layers.wind(size, rng))
            plan.layers.append("wind")
    elif weather == Weather.SNOW:
        far = layers.snow(size, rng, near=False, wind=0.3)
        if indoor:
            plan.far.append(far)
        else:
            plan.near += [far, layers.snow(size, rng, near=True, wind=0.3)]
        plan.layers.append("snow")
    elif weather == Weather.FOG:
        colour = (150, 156, 166) if plan.time == TimeOfDay.NIGHT else (214, 218, 222)
        plan.far.append(layers.fog(size, rng, density=0.75, colour=colour))
        if not indoor:
            plan.near.append(layers.fog(size, rng, density=0.3, colour=colour))
        plan.layers.append("fog")
    elif weather == Weather.WIND:
        (plan.far if indoor else plan.near).append(layers.wind(size, rng))
        plan.layers.append("wind")


class PrevizRenderer(Renderer):
    name = "previz"

    def render(self, job_context: RenderContext, on_progress: ProgressFn, is_cancelled: CancelledFn) -> RenderedClip:
        plan = previz_plan(job_context)
        total = job_context.frame_count
        frames = self._frames(plan, total, on_progress, is_cancelled, preview_hook(on_progress))
        return RenderedClip(frames=frames, fps=job_context.fps, frame_count=total)

    @staticmethod
    def _frames(plan: PrevizPlan, total: int, on_progress: ProgressFn, is_cancelled: CancelledFn,
                preview: PreviewFn) -> Iterator[np.ndarray]:
        w, h = plan.size
        # A layer whose scale holds for the whole move (orbit, handheld, pans) is scaled once, not per frame.
        bg_scale = _constant([p.bg[2] for p in plan.poses])
        bg, flash_bg, window_mask = plan.background, plan.background_flash, plan.window_mask
        if bg_scale not in (None, 1.0):
            bg, flash_bg, window_mask = (_scaled(x, bg_scale) for x in (bg, flash_bg, window_mask))
        bg_anchor = (bg.width / 2, bg.height / 2)
        subject_scale = _constant([p.scale for p in plan.subject])
        parts = plan.subject_parts
        if subject_scale not in (None, 1.0):
            parts = [(_scaled(img, subject_scale), (ax * subject_scale, ay * subject_scale)) for img, (ax, ay) in parts]
        white = Image.new("RGB", (w, h), (236, 240, 255))
        beam_colour = Image.new("RGB", (w, h), (255, 240, 200))
        flicker = [1.0 + plan.flicker * np.sin(i * 1.7) * np.cos(i * 0.63) for i in range(total)]
        for i in range(total):
            if is_cancelled():
                raise RenderCancelled()
            pose = plan.poses[i]
            flash = plan.flashes.get(i, 0.0)
            bx, by, bs = pose.bg
            bs = 1.0 if bg_scale is not None else bs
            source = flash_bg if flash >= 0.7 and flash_bg is not None else bg
            frame = view(source, bg_anchor, w / 2 + bx * w, h / 2 + by * h, bs, (w, h))
            mask = None
            if window_mask is not None:
                mask = view(window_mask, bg_anchor, w / 2 + bx * w, h / 2 + by * h, bs, (w, h))
                for particles in plan.far:  # indoors: the weather is seen through the windows
                    drops = particles.window(i, (w, h))
                    drops.putalpha(ImageChops.multiply(drops.getchannel("A"), mask))
                    frame.paste(drops, (0, 0), drops)
            if plan.beam is not None:
                _beam(frame, beam_colour, plan.beam, pose, bg.size, i, total)
            place = plan.subject[i]
            for part, anchor in parts:
                composite(frame, part, anchor, place.cx, place.cy, 1.0 if subject_scale is not None else place.scale)
            if window_mask is None:
                for particles in plan.far:  # a fog bank behind the persona
                    drops = particles.window(i, (w, h))
                    frame.paste(drops, (0, 0), drops)
            outdoor = plan.near
            if outdoor:  # one paste for every particle layer: their coverage combined
                drops = outdoor[0].window(i, (w, h))
                if len(outdoor) > 1:
                    cover = drops.getchannel("A")
                    for particles in outdoor[1:]:
                        cover = ImageChops.lighter(cover, particles.window(i, (w, h)).getchannel("A"))
                    drops.putalpha(cover)
                frame.paste(drops, (0, 0), drops)
            if flash:
                frame = Image.blend(frame, white, 0.32 * flash)
                if mask is not None:
                    frame.paste(white, (0, 0), mask.point(lambda v, f=flash: int(v * 0.5 * f)))
            if plan.flicker:
                gain = flicker[i]
                frame = frame.point([min(255, int(v * gain)) for v in range(256)] * 3)
            if plan.band_image is not None:
                frame.paste(plan.band_image, (0, plan.band[0]), plan.band_image)
            drawn = np.asarray(frame)
            yield drawn
            # the live preview is the frame just drawn (the hook sends at most ~2 a second)
            if not preview(i + 1, total, "rendering", lambda drawn=drawn: drawn):
                on_progress(i + 1, total, "rendering")


def _constant(values: list[float]) -> float | None:
    return values[0] if values and max(values) - min(values) < 1e-4 else None


def _scaled(img: Image.Image | None, scale: float) -> Image.Image | None:
    if img is None:
        return None
    return img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                      Image.Resampling.BILINEAR)


def _beam(frame: Image.Image, colour: Image.Image, lamp: tuple[float, float], pose: Pose,
          bg_size: tuple[int, int], i: int, total: int) -> None:
    """The lighthouse beam sweeping from its lamp (background coordinates) across the frame."""
    w, h = frame.size
    bx, by, bs = pose.bg
    x = w / 2 + bx * w + (lamp[0] * bg_size[0] - bg_size[0] / 2) * bs
    y = h / 2 + by * h + (lamp[1] * bg_size[1] - bg_size[1] / 2) * bs
    angle = 2 * np.pi * (0.15 + 0.6 * i / max(1, total - 1))
    reach = w * 1.4
    spread = 0.09
    tip1 = (x + reach * np.cos(angle - spread), y + reach * 0.25 * np.sin(angle - spread))
    tip2 = (x + reach * np.cos(angle + spread), y + reach * 0.25 * np.sin(angle + spread))
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).polygon([(x, y), tip1, tip2], fill=70)
    frame.paste(colour, (0, 0), mask)
