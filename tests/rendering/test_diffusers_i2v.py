"""The diffusers renderer on an image-to-video pipeline: a tiny random-weight
WanImageToVideoPipeline, saved with save_pretrained and loaded through the real
DiffusionPipeline.from_pretrained path, gets the persona's portrait as ``image=``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageOps

from rendering.errors import RenderFailed
from rendering.renderers.base import RenderContext
from rendering.renderers.diffusers_video import DiffusersVideoRenderer, wan_frame_count
from tests.rendering.conftest import make_beat


@pytest.fixture(scope="module")
def tiny_wan_i2v_dir(tmp_path_factory) -> Path:
    from tests.rendering.wan_builder import build_wan_i2v_pipeline

    return build_wan_i2v_pipeline(tmp_path_factory.mktemp("wan-i2v") / "pipe")


@pytest.fixture(scope="module")
def portraits(tmp_path_factory) -> dict[str, Path]:
    """Two different portraits, not square (the renderer fits them to the frame)."""
    out = {}
    directory = tmp_path_factory.mktemp("portraits")
    for name, skin, hair in (("ava", (224, 180, 150), (120, 40, 20)), ("bea", (90, 60, 45), (20, 20, 30))):
        img = Image.new("RGB", (48, 64), (30, 90, 160) if name == "ava" else (200, 200, 60))
        draw = ImageDraw.Draw(img)
        draw.ellipse((10, 8, 38, 44), fill=skin)
        draw.rectangle((8, 4, 40, 14), fill=hair)
        out[name] = directory / f"{name}.png"
        img.save(out[name])
    return out


@pytest.fixture
def i2v_settings(settings, tiny_wan_i2v_dir):
    settings.RENDER_PIPELINE_PATH = str(tiny_wan_i2v_dir)
    settings.RENDER_WIDTH = settings.RENDER_HEIGHT = 32
    settings.RENDER_FPS, settings.RENDER_STEPS, settings.RENDER_GUIDANCE_SCALE = 8, 2, 1.0
    return settings


def ctx(portrait: Path | None, *, seed: int = 5, duration_s: float = 1.0) -> RenderContext:
    return RenderContext(job_id="t", beat=make_beat(duration_s=duration_s, seed=seed), persona_id=1,
                         persona_name="p", portrait_path=str(portrait) if portrait else None,
                         width=32, height=32, fps=8)


@pytest.fixture(scope="module")
def renderer(tiny_wan_i2v_dir):
    """One renderer (pipeline loaded once, as in a worker process) for the module."""
    return DiffusersVideoRenderer(pipeline_path=str(tiny_wan_i2v_dir))


def _render(renderer, context, progress=None):
    clip = renderer.render(context, (lambda *a: progress.append(a)) if progress is not None else (lambda *a: None),
                           lambda: False)
    return clip, np.asarray(clip.frames)


def test_loads_an_image_to_video_pipeline_through_from_pretrained(i2v_settings, renderer):
    from diffusers import WanImageToVideoPipeline

    pipe = renderer.pipeline()
    assert type(pipe) is WanImageToVideoPipeline
    assert pipe.image_encoder is not None and pipe.image_processor is not None
    assert pipe.transformer.config.in_channels == 36 and pipe.transformer.config.image_dim == 4


def test_the_portrait_reaches_the_image_encoder(i2v_settings, renderer, portraits):
    pipe = renderer.pipeline()
    seen: list[torch.Tensor] = []
    hook = pipe.image_encoder.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(kwargs["pixel_values"].detach().clone()), with_kwargs=True
    )
    try:
        _render(renderer, ctx(portraits["ava"]))
    finally:
        hook.remove()
    assert len(seen) == 1
    with Image.open(portraits["ava"]) as img:
        fitted = ImageOps.fit(img.convert("RGB"), (32, 32))
    expected = pipe.image_processor(images=fitted, return_tensors="pt")["pixel_values"]
    assert torch.equal(seen[0], expected)


def test_frames_count_shape_and_progress(i2v_settings, renderer, portraits):
    progress: list = []
    clip, frames = _render(renderer, ctx(portraits["ava"], duration_s=1.0), progress)
    expected = wan_frame_count(8)  # 1 s at 8 fps -> 9 frames (4k + 1)
    assert expected == 9
    assert frames.shape == (expected, 32, 32, 3) and frames.dtype == np.uint8
    assert clip.frame_count == expected and clip.fps == 8
    assert progress[-2:] == [(1, 2, "denoising"), (2, 2, "denoising")]


def test_different_portraits_give_different_clips_with_the_same_seed(i2v_settings, renderer, portraits):
    _, ava = _render(renderer, ctx(portraits["ava"], seed=11))
    _, ava_again = _render(renderer, ctx(portraits["ava"], seed=11))
    _, bea = _render(renderer, ctx(portraits["bea"], seed=11))
    assert np.array_equal(ava, ava_again)  # deterministic for a seed and a portrait...
    assert not np.array_equal(ava, bea)  # ...so this difference is the portrait's doing


def test_a_persona_without_a_portrait_is_a_clear_failure(i2v_settings, renderer):
    with pytest.raises(RenderFailed, match="portrait"):
        renderer.render(ctx(None), lambda *a: None, lambda: False)
