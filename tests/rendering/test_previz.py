"""The CPU previz: right size and length, deterministic, the camera really moves, and the frames show
what the beat names (the persona in frame under every move, the place, the props, the weather, the line)."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from rendering.beat import CameraMove, Framing, RenderDirection, Weather
from rendering.errors import RenderCancelled
from rendering.renderers.base import RenderContext
from rendering.renderers.previz import PrevizRenderer, previz_plan
from tests.rendering.conftest import make_beat


def render(tmp_path=None, *, width=160, height=96, portrait=None, **beat_fields):
    beat = make_beat(**beat_fields)
    ctx = RenderContext(job_id="t", beat=beat, persona_id=1, persona_name="Mira", portrait_path=portrait,
                        width=width, height=height, fps=16)
    progress = []
    clip = PrevizRenderer().render(ctx, lambda s, t, p: progress.append((s, t, p)), lambda: False)
    return np.stack(list(clip.frames)), progress, clip


def test_full_size_frame_count_and_progress():
    frames, progress, clip = render(width=854, height=480, duration_s=2.0)
    assert frames.shape == (32, 480, 854, 3) and frames.dtype == np.uint8
    assert clip.fps == 16 and clip.frame_count == 32
    assert [s for s, _, _ in progress] == list(range(1, 33))
    assert {t for _, t, _ in progress} == {32}


def test_deterministic_per_seed_and_different_across_seeds():
    a, _, _ = render(seed=3, camera="handheld_tracking")
    b, _, _ = render(seed=3, camera="handheld_tracking")
    c, _, _ = render(seed=4, camera="handheld_tracking")
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_static_camera_holds_still():
    frames, _, _ = render(camera="static", lighting="daylight", setting="an open field")
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() < 0.5


def _shift_x(first: np.ndarray, last: np.ndarray) -> int:
    """Horizontal displacement that best aligns last onto first (brute force over the overlap)."""
    a, b = first[:60].mean(axis=2), last[:60].mean(axis=2)  # above the caption
    best, best_err = 0, float("inf")
    for dx in range(-40, 41):
        if dx >= 0:
            err = np.abs(a[:, : a.shape[1] - dx] - b[:, dx:]).mean()
        else:
            err = np.abs(a[:, -dx:] - b[:, : b.shape[1] + dx]).mean()
        if err < best_err:
            best, best_err = dx, err
    return best


def test_pan_left_and_pan_right_move_the_scene_in_opposite_directions():
    left, _, _ = render(camera="pan_left", setting="a city street", lighting="daylight")
    right, _, _ = render(camera="pan_right", setting="a city street", lighting="daylight")
    # the camera turns left, so the picture content slides right (and vice versa)
    assert _shift_x(left[0], left[-1]) > 10
    assert _shift_x(right[0], right[-1]) < -10


def test_dolly_in_magnifies_the_subject(tmp_path):
    # a grey portrait with two red "eyes" 50 px apart: their distance on screen measures the subject's scale
    img = np.full((200, 150, 3), 128, np.uint8)
    img[55:65, 45:55] = img[55:65, 95:105] = (255, 0, 0)
    Image.fromarray(img).save(tmp_path / "p.png")
    frames, _, _ = render(camera="dolly_in", portrait=str(tmp_path / "p.png"), lighting="studio",
                          setting="a dark room", framing="medium", width=320, height=180)

    def eye_distance(frame):
        red = (frame[..., 0] > 170) & (frame[..., 1] < 90) & (frame[..., 2] < 90)
        xs = np.nonzero(red.any(axis=0))[0]
        return xs.max() - xs.min()

    assert eye_distance(frames[-1]) > eye_distance(frames[0]) * 1.25


def test_dolly_zoom_grows_background_but_not_subject(tmp_path):
    from rendering.renderers.previz import camera_pose

    start, end = camera_pose("dolly_zoom", 0.0, 1), camera_pose("dolly_zoom", 1.0, 1)
    assert end.bg[2] > start.bg[2] * 1.3  # background scale up
    assert end.subject[2] <= start.subject[2]  # subject holds (slightly shrinks): the opposing scales


@pytest.mark.parametrize("camera", ["tilt_up", "crane_up", "orbit", "dolly_out", "tilt_down"])
def test_every_move_changes_the_picture(camera):
    frames, _, _ = render(camera=camera)
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 2


def test_lighting_grades_the_picture():
    warm, _, _ = render(lighting="golden_hour", camera="static")
    cold, _, _ = render(lighting="moonlight", camera="static")
    assert warm[0][..., 0].mean() > warm[0][..., 2].mean()  # golden hour: more red than blue
    assert cold[0][..., 2].mean() > cold[0][..., 0].mean()  # moonlight: more blue than red


def test_cancel_stops_between_frames():
    ctx = RenderContext(job_id="t", beat=make_beat(duration_s=2), persona_id=1, persona_name="Mira",
                        width=64, height=48, fps=16)
    calls = []
    clip = PrevizRenderer().render(ctx, lambda *a: calls.append(a), lambda: len(calls) >= 3)
    with pytest.raises(RenderCancelled):
        list(clip.frames)
    assert len(calls) == 3


# --- what the frames show ----------------------------------------------------------------------------

FACE = (0, 230, 230)  # the test portrait: a cyan head over magenta shoulders, on a transparent background
BODY = (235, 0, 235)


@pytest.fixture(scope="module")
def cutout_portrait(tmp_path_factory):
    img = Image.new("RGBA", (300, 400), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.ellipse((20, 250, 280, 520), fill=(*BODY, 255))
    d.rectangle((125, 200, 175, 270), fill=(*BODY, 255))
    d.ellipse((90, 40, 210, 220), fill=(*FACE, 255))
    path = tmp_path_factory.mktemp("portrait") / "cutout.png"
    img.save(path)
    return str(path)


@pytest.fixture(scope="module")
def opaque_portrait(tmp_path_factory):
    """A portrait with its own background (a sky and a distant lighthouse), like the demo persona's."""
    from personas.portrait_art import draw_portrait

    path = tmp_path_factory.mktemp("portrait") / "opaque.png"
    path.write_bytes(draw_portrait("mira-vale"))
    return str(path)


def _ctx(portrait=None, width=320, height=180, **beat_fields):
    return RenderContext(job_id="t", beat=make_beat(**beat_fields), persona_id=1, persona_name="Mira",
                         portrait_path=portrait, width=width, height=height, fps=16)


def _colour_mask(frame, colour, tol=60):
    return (np.abs(frame.astype(int) - np.asarray(colour)).sum(axis=2) < tol)


def _box(mask):
    ys, xs = np.nonzero(mask)
    return (xs.min(), ys.min(), xs.max(), ys.max()) if len(xs) else None


@pytest.mark.parametrize("framing", list(Framing))
@pytest.mark.parametrize("camera", list(CameraMove))
def test_the_subject_stays_inside_the_frame_under_every_move(camera, framing):
    ctx = _ctx(camera=camera, framing=framing, duration_s=2.0, speech="A line long enough to need a band.")
    plan = previz_plan(ctx)
    margin = 0.02 * ctx.height
    for place in plan.subject:
        assert place.box.inside(ctx.width, ctx.height, margin), (camera, framing, place.box)
        if plan.band is not None:
            assert not place.face.overlaps_rows(*plan.band), (camera, framing, place.face, plan.band)


@pytest.mark.parametrize("camera", ["dolly_in", "crane_up", "orbit", "pan_left", "tilt_up", "handheld_tracking",
                                    "dolly_zoom"])
def test_every_frame_shows_the_whole_figure_inside_and_the_face_clear_of_the_subtitle(cutout_portrait, camera):
    frames, _, _ = render(portrait=cutout_portrait, camera=camera, framing="close_up", lighting="studio",
                          setting="a quiet room", width=320, height=180, duration_s=2.0,
                          speech="Mind the ink, it's still wet. You picked a fine night to get stranded.")
    plan = previz_plan(_ctx(cutout_portrait, camera=camera, framing="close_up", lighting="studio",
                            setting="a quiet room", duration_s=2.0,
                            speech="Mind the ink, it's still wet. You picked a fine night to get stranded."))
    top, bottom = plan.band
    for i, frame in enumerate(frames):
        face = _colour_mask(frame, FACE)
        figure = face | _colour_mask(frame, BODY)
        assert face.sum() > 150, f"frame {i}: the face is not visible"
        x0, y0, x1, y1 = _box(figure)
        assert x0 > 0 and y0 > 0 and x1 < frame.shape[1] - 1 and y1 < frame.shape[0] - 1, (i, _box(figure))
        assert not face[top:bottom].any(), f"frame {i}: the subtitle band covers the face"
    band = frames[0][top:bottom].astype(int)
    assert band.mean() < frames[0].astype(int).mean()  # the band is there (darker, with white text)
    assert (band.min(axis=2) > 230).sum() > 20


def test_an_opaque_portrait_is_cut_out_not_pasted_as_a_card(opaque_portrait):
    from rendering.renderers.previz.figure import figure_for

    figure = figure_for(opaque_portrait, height=256, seed=1, tone=(90, 90, 90))
    alpha = np.asarray(figure.image.getchannel("A"))
    h, w = alpha.shape
    assert alpha[: h // 10, : w // 10].max() < 40 and alpha[: h // 10, -w // 10:].max() < 40  # no sky in the corners
    assert alpha[int(h * 0.3), w // 2] > 200 and alpha[int(h * 0.8), w // 2] > 200  # the face and the shoulders
    assert 0.3 < (alpha > 128).mean() < 0.85
    left, top, right, bottom = figure.face
    assert 0.1 < left < 0.5 < right < 0.9 and top < 0.2 and 0.3 < bottom < 0.7


def test_a_storm_beat_has_rain_and_lightning(opaque_portrait):
    storm = dict(setting="lamp room of the old lighthouse", lighting="rainy_night", time_of_day="night",
                 weather="storm", camera="static", duration_s=4.0, portrait=opaque_portrait)
    plan = previz_plan(_ctx(**storm, width=160, height=96))
    assert plan.kit == "lamp_room" and {"rain", "lightning", "wind"} <= set(plan.layers)
    frames, _, _ = render(**storm)
    calm, _, _ = render(**{**storm, "weather": "clear", "lighting": "moonlight"})
    brightness = frames.reshape(len(frames), -1).mean(axis=1)
    flashes = sorted(plan.flashes)
    assert flashes and brightness[flashes[0]] > np.median(brightness) + 15  # a lightning flash

    def changed(clip, i):  # share of pixels that change visibly from frame i-1 to frame i
        return (np.abs(clip[i].astype(int) - clip[i - 1].astype(int)).sum(axis=2) > 12).mean()

    quiet = [i for i in range(1, len(frames)) if i not in plan.flashes and i - 1 not in plan.flashes]
    assert np.mean([changed(frames, i) for i in quiet]) > 0.003  # rain falls past the windows...
    assert max(changed(calm, i) for i in range(1, len(calm))) == 0.0  # ...a clear night's static shot holds still


def test_a_remix_note_light_rain_adds_rain():
    beat = make_beat(setting="a park bench", lighting="daylight", camera="static", weather="clear", duration_s=2.0)
    remix = beat.with_direction(RenderDirection(notes="light rain"))
    assert remix.weather == Weather.CLEAR  # the contract keeps the note; the renderer reads it
    plan = previz_plan(RenderContext(job_id="t", beat=remix, persona_id=1, persona_name="Mira", width=160,
                                     height=96, fps=16))
    assert plan.weather == Weather.RAIN and "rain" in plan.layers

    def frames_of(b):
        ctx = RenderContext(job_id="t", beat=b, persona_id=1, persona_name="Mira", width=160, height=96, fps=16)
        return np.stack(list(PrevizRenderer().render(ctx, lambda *a: None, lambda: False).frames))

    dry, wet = frames_of(beat), frames_of(remix)

    def changed(frames):  # share of pixels that change visibly from one frame to the next
        return (np.abs(frames[1].astype(int) - frames[0].astype(int)).sum(axis=2) > 12).mean()

    assert changed(dry) == 0.0  # a static shot of a dry park holds still
    assert changed(wet) > 0.005  # drops falling between frames


@pytest.mark.parametrize(
    ("setting", "kit"),
    [
        ("lamp room of the old lighthouse", "lamp_room"), ("small lighthouse on a rocky coast", "lighthouse"),
        ("the harbour wall", "harbour"), ("moonlit beach", "beach"), ("a pine forest", "forest"),
        ("a rainy city street", "street"), ("a little café", "cafe"), ("the mountain pass", "mountain"),
        ("the night train to Vienna", "train"), ("the front seat of her car", "car"), ("her bedroom", "bedroom"),
        ("the old library", "library"), ("a rooftop terrace", "rooftop"), ("the deck of the ship", "ship"),
        ("a sunny meadow", "field"), ("the bridge of the starship", "spaceship"), ("a quiet kitchen", "room"),
    ],
)
def test_settings_get_their_place_kit(setting, kit):
    assert previz_plan(_ctx(setting=setting, width=64, height=48, duration_s=1.0)).kit == kit


def test_props_the_beat_names_are_drawn_on_the_surface(cutout_portrait):
    base = dict(setting="a quiet room", lighting="studio", camera="static", framing="medium", duration_s=1.0,
                portrait=cutout_portrait, action="Mira looks up")
    bare, _, _ = render(**base, width=320, height=180)
    laden, _, _ = render(**base, props=["a chart", "four mugs", "candles", "a lamp"], width=320, height=180)
    plan = previz_plan(_ctx(**base, props=["a chart", "four mugs", "candles", "a lamp"]))
    assert plan.props == {"chart": 1, "mug": 4, "candle": 2, "lamp": 1}
    diff = np.abs(laden[0].astype(int) - bare[0].astype(int)).sum(axis=2) > 40
    rows = np.nonzero(diff.any(axis=1))[0]
    surface = plan.subject[0].box.top + 0.8 * (plan.subject[0].box.bottom - plan.subject[0].box.top)
    assert diff.sum() > 200
    assert abs(np.median(rows) - surface) < 0.25 * diff.shape[0]  # drawn where the surface is, around her


@pytest.mark.parametrize(("weather", "layer"), [("snow", "snow"), ("fog", "fog"), ("wind", "wind"),
                                                ("rain", "rain")])
def test_weather_layers(weather, layer):
    outdoor = previz_plan(_ctx(setting="a pine forest", weather=weather, duration_s=1.0, width=96, height=64))
    indoor = previz_plan(_ctx(setting="a quiet room", weather=weather, duration_s=1.0, width=96, height=64))
    assert layer in outdoor.layers and layer in indoor.layers
    assert indoor.window_mask is not None  # indoors the weather is seen through the windows


def test_a_clip_without_a_spoken_line_has_no_subtitle():
    plan = previz_plan(_ctx(speech="", duration_s=1.0))
    assert plan.band is None and "subtitle" not in plan.layers
