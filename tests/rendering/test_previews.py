"""Live previews while rendering, and clips that continue from the last frame of another.

Previews: the previz sends the frame it just drew, the diffusers renderer a linear
projection of its latents; at most ~2 a second a job; gone when the clip arrives.
Continue: the child's first frame is the parent's last, its seed derives from the
parent's, and an image-to-video model gets the last frame as its image.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from rendering import continuity, encode
from rendering.actors import render_clip
from rendering.models import RenderJob
from rendering.previews import PREVIEW_MIN_INTERVAL_S, PREVIEW_WIDTH, latents_rgb, preview_get
from rendering.renderers.base import RenderContext
from rendering.services import ProgressReporter, render_job_request
from rendering.signals import job_updated
from tests.rendering.conftest import make_beat

pytestmark = pytest.mark.django_db


@pytest.fixture
def previews():
    """(job id, step, Preview) for every progress event that carried a preview."""
    seen: list = []

    def receiver(sender, job, event, preview=None, **kwargs):
        if preview is not None:
            assert event == "progress"
            seen.append((str(job.pk), job.progress_step, preview, preview_get(job_id=str(job.pk))))

    job_updated.connect(receiver, weak=False)
    yield seen
    job_updated.disconnect(receiver)


def render_now(persona, user, key: str, *, continues: RenderJob | None = None, **beat) -> RenderJob:
    """Request and render in this thread (the actor's own function, as a worker would call it)."""
    job, _ = render_job_request(persona=persona, beat=make_beat(**beat), requested_by=user, source="test",
                                idempotency_key=key, continues=continues)
    render_clip.fn(str(job.pk))
    job.refresh_from_db()
    assert job.status == "succeeded", job.error_detail
    return job


def test_previz_progress_carries_previews_that_decode_at_preview_size(persona, user, previews):
    job = render_now(persona, user, "p1", duration_s=2.0, setting="a beach at dusk", lighting="golden_hour")
    mine = [p for p in previews if p[0] == str(job.pk)]
    assert mine, "no preview was sent while rendering"
    for _, step, preview, kept in mine:
        img = Image.open(io.BytesIO(preview.jpeg))
        assert img.format == "JPEG" and img.size == (PREVIEW_WIDTH, 90)  # 128x72 frames, aspect kept
        assert (preview.width, preview.height) == img.size and 1 <= preview.step == step <= 32
        assert preview.data_url.startswith("data:image/jpeg;base64,") and len(preview.data_url) < 16_000
        assert kept == preview.jpeg  # the latest one is what the owner-only URL serves meanwhile
    # the preview is the scene: a dusk beach, so the picture is not one flat colour
    pixels = np.asarray(Image.open(io.BytesIO(mine[-1][2].jpeg)), dtype=float)
    assert pixels.std() > 10
    assert preview_get(job_id=str(job.pk)) is None  # dropped when the clip arrived


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_previews_are_rate_limited_and_only_drawn_when_due(persona, user, previews):
    job, _ = render_job_request(persona=persona, beat=make_beat(), requested_by=user, source="test",
                                idempotency_key="rate")
    RenderJob.objects.filter(pk=job.pk).update(status="running")
    clock = Clock()
    reporter = ProgressReporter(job, clock=clock)
    drawn = []

    def make():
        drawn.append(clock.now)
        return np.full((72, 128, 3), 99, np.uint8)

    sent = []
    for step in range(1, 41):  # 40 frames over 2 seconds
        sent.append(reporter.preview(step, 40, "rendering", make))
        clock.now += 0.05
    assert sum(sent) == len(drawn) == len(previews) == 4  # 2 s at one every PREVIEW_MIN_INTERVAL_S
    assert np.all(np.diff(drawn) >= PREVIEW_MIN_INTERVAL_S - 1e-9)


def test_diffusers_callback_yields_previews_from_the_latents(tiny_wan_dir, settings):
    from rendering.renderers.diffusers_video import DiffusersVideoRenderer

    settings.RENDER_STEPS, settings.RENDER_GUIDANCE_SCALE = 3, 1.0
    ctx = RenderContext(job_id="t", beat=make_beat(duration_s=1.0), persona_id=1, persona_name="Mira",
                        width=32, height=32, fps=8)

    class Progress:
        def __init__(self) -> None:
            self.steps: list[int] = []
            self.pictures: list[np.ndarray] = []

        def __call__(self, step, total, phase) -> None:
            self.steps.append(step)

        def preview(self, step, total, phase, make) -> bool:
            self.pictures.append(make())  # every step: rate limiting is the reporter's job
            self.steps.append(step)
            return True

    progress = Progress()
    DiffusersVideoRenderer(pipeline_path=str(tiny_wan_dir)).render(ctx, progress, lambda: False)
    assert progress.steps[-3:] == [1, 2, 3] and len(progress.pictures) == 3
    for picture in progress.pictures:
        assert picture.dtype == np.uint8 and picture.shape == (4, 4, 3)  # the 32x32 clip's latent grid
    assert not np.array_equal(progress.pictures[0], progress.pictures[-1])  # it changes as it denoises


def test_latent_projection_maps_wan_channels_to_rgb():
    import torch

    latents = torch.zeros(1, 16, 3, 6, 8)
    assert latents_rgb(latents).shape == (6, 8, 3)
    # all-zero latents give the bias colour: (-0.1835, -0.0868, -0.3360) in [-1, 1]
    assert latents_rgb(latents)[0, 0].tolist() == [104, 116, 85]


def _frames(job: RenderJob) -> np.ndarray:
    return np.stack(list(encode.decode_frames(job.clip.path))).astype(int)


def test_a_continued_previz_clip_starts_from_its_parents_last_frame(persona, user):
    parent = render_now(persona, user, "parent", duration_s=1.0, camera="pan_left", setting="a harbour at dusk",
                        lighting="golden_hour", seed=11)
    child = render_now(persona, user, "child", continues=parent, duration_s=1.0, camera="pan_left",
                       setting="a harbour at dusk", lighting="golden_hour", seed=continuity.child_seed(11, "x"),
                       action="Mira turns to the boats")
    assert child.continues_id == parent.pk
    first, last = _frames(child)[0], _frames(parent)[-1]
    assert np.abs(first - last).mean() < 4  # the same picture, give or take H.264
    # and the clip moves on from there: its end is its own beat, not a still of the parent
    assert np.abs(_frames(child)[-1] - last).mean() > np.abs(first - last).mean()


def test_child_seeds_derive_from_the_parent_and_differ_by_direction():
    assert continuity.child_seed(7, "a") == continuity.child_seed(7, "a")
    assert len({continuity.child_seed(7, "a"), continuity.child_seed(7, "b"), continuity.child_seed(8, "a")}) == 3


def test_an_image_to_video_continue_gets_the_last_frame_as_its_image(tmp_path_factory, settings):
    from rendering.renderers.diffusers_video import DiffusersVideoRenderer
    from tests.rendering.wan_builder import build_wan_i2v_pipeline

    settings.RENDER_STEPS, settings.RENDER_GUIDANCE_SCALE = 2, 1.0
    renderer = DiffusersVideoRenderer(pipeline_path=str(build_wan_i2v_pipeline(tmp_path_factory.mktemp("i2v"))))
    pipe = renderer.pipeline()
    start = np.zeros((32, 32, 3), np.uint8)
    start[:, :16] = (250, 10, 10)  # half red, half black: unlike any portrait
    ctx = RenderContext(job_id="t", beat=make_beat(duration_s=1.0), persona_id=1, persona_name="Mira",
                        width=32, height=32, fps=8, start_frame=start)
    kwargs = renderer.call_kwargs(pipe, ctx, lambda *a: None, lambda: False)
    assert np.array_equal(np.asarray(kwargs["image"]), start)
    clip = renderer.render(ctx, lambda *a: None, lambda: False)
    assert clip.from_start_frame and np.asarray(clip.frames).shape[1:] == (32, 32, 3)


def test_a_continued_chain_of_three_assembles_into_one_reel_that_lists_its_clips(persona, user):
    from rendering import labelling
    from rendering.actors import render_reel
    from rendering.services import reel_request

    shot = {"setting": "a lighthouse lamp room at night", "lighting": "moonlight", "camera": "orbit",
            "duration_s": 1.0}
    a = render_now(persona, user, "a", seed=1, **shot)
    b = render_now(persona, user, "b", continues=a, seed=continuity.child_seed(1, "b"), **shot)
    c = render_now(persona, user, "c", continues=b, seed=continuity.child_seed(continuity.child_seed(1, "b"), "c"),
                   **shot)
    reel, _ = reel_request(jobs=[a, b, c], requested_by=user, source="test", idempotency_key="chain")
    render_reel.fn(str(reel.pk))
    reel.refresh_from_db()
    assert reel.status == "succeeded", reel.error_detail
    info = encode.probe(reel.clip.path)
    assert (info["width"], info["height"], info["fps"], info["frames"]) == (128, 72, 16.0, 48)
    frames = _frames(reel)
    for cut in (16, 32):  # each shot opens on the picture the one before it ended with
        assert np.abs(frames[cut] - frames[cut - 1]).mean() < 4
    manifest = labelling.read_manifest(reel.clip.path)
    titles = [i["title"] for i in manifest["manifest"]["ingredients"]]
    assert titles == [f"clip {job.pk}" for job in (a, b, c)]
    assert {i["relationship"] for i in manifest["manifest"]["ingredients"]} == {"componentOf"}
    assert manifest["actions"][0]["digitalSourceType"] == labelling.TRAINED_ALGORITHMIC_MEDIA
    assert manifest["validation_state"] == "Valid"
