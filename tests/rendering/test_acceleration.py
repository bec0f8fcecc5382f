"""Render acceleration settings on the tiny random-weight Wan pipeline: each changes what it says, and only that.

The speed they buy is measured on a GPU by bench/render_gpu.py (bench/README);
here the question is behaviour: the fast profile's steps, guidance and distilled
LoRA reach the pipeline; First Block Cache really skips blocks (and with a zero
threshold changes nothing); a compiled transformer swaps persona LoRAs in place
without compiling a new graph, and the swapped-in weights are the ones used.
"""

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import DiffusionPipeline

from rendering.adapters import HOTSWAP_SLOT
from rendering.renderers.acceleration import FAST_ADAPTER, Acceleration
from rendering.renderers.base import RenderContext
from rendering.renderers.diffusers_video import DiffusersVideoRenderer
from tests.rendering.conftest import make_beat
from tests.rendering.wan_builder import make_lora


@pytest.fixture(scope="module")
def loras(tiny_wan_dir, tmp_path_factory) -> dict[str, Path]:
    pipe = DiffusionPipeline.from_pretrained(tiny_wan_dir, dtype=torch.float32)
    out = {}
    for name, seed in (("ava", 1), ("bea", 2), ("distilled", 3)):
        directory = tmp_path_factory.mktemp(f"lora-{name}")
        make_lora(pipe, directory, seed=seed)
        out[name] = directory / "lora.safetensors"
    return out


@pytest.fixture
def tiny(settings, tiny_wan_dir):
    settings.RENDER_PIPELINE_PATH = str(tiny_wan_dir)
    settings.RENDER_WIDTH = settings.RENDER_HEIGHT = 32
    settings.RENDER_FPS, settings.RENDER_STEPS, settings.RENDER_GUIDANCE_SCALE = 8, 6, 5.0
    torch.set_num_threads(1)
    return settings


def ctx(persona_id=1, lora=None) -> RenderContext:
    return RenderContext(job_id="t", beat=make_beat(duration_s=1.0, seed=5), persona_id=persona_id,
                         persona_name="p", lora_path=str(lora) if lora else None, width=32, height=32, fps=8)


def accel(**overrides) -> Acceleration:
    return Acceleration(**{"steps_full": 6, "guidance_full": 5.0, "steps_fast": 2, "guidance_fast": 1.0,
                           **overrides})


def render(renderer, context=None) -> tuple[np.ndarray, list]:
    progress: list = []
    clip = renderer.render(context or ctx(), lambda *a, **k: progress.append(a), lambda: False)
    return np.asarray(clip.frames), progress


@pytest.mark.parametrize("field,value", [("cache", "firstblock"), ("profile", "turbo")])
def test_an_unknown_setting_stops_the_worker_with_its_name(field, value):
    with pytest.raises(ValueError, match=f"RENDER_{field.upper()}"):
        Acceleration(**{field: value})


def test_settings_default_to_plain_diffusers(tiny):
    a = Acceleration.from_settings()
    assert (a.cache, a.compile, a.profile) == ("", False, "full")
    assert (a.steps, a.guidance_scale, a.always_on_adapters) == (6, 5.0, {})


def test_fast_profile_renders_its_steps_without_guidance_and_keeps_the_distilled_lora_on(tiny, loras):
    renderer = DiffusersVideoRenderer(acceleration=accel(profile="fast", fast_lora_path=str(loras["distilled"])))
    pipe = renderer.pipeline()
    kwargs = renderer.call_kwargs(pipe, ctx(), lambda *a: None, lambda: False)
    assert (kwargs["num_inference_steps"], kwargs["guidance_scale"]) == (2, 1.0)

    _, progress = render(renderer)
    assert [p[:2] for p in progress if p[2] == "denoising"] == [(1, 2), (2, 2)]
    assert set(pipe.get_active_adapters()) == {FAST_ADAPTER}

    render(renderer, ctx(1, loras["ava"]))  # a persona LoRA joins the distilled one, it does not replace it
    assert set(pipe.get_active_adapters()) == {renderer.adapters.active, FAST_ADAPTER}

    full = DiffusersVideoRenderer(acceleration=accel())
    assert not np.array_equal(render(full)[0], render(renderer)[0])


def test_first_block_cache_skips_blocks_and_a_zero_threshold_changes_nothing(tiny):
    def blocks_run(renderer) -> tuple[np.ndarray, int]:
        pipe = renderer.pipeline()
        calls = []
        # the block's own feed-forward: the cache hook answers the block call without running it
        hook = pipe.transformer.blocks[-1].ffn.register_forward_hook(lambda *a: calls.append(1))
        frames, _ = render(renderer)
        hook.remove()
        return frames, len(calls)

    plain, plain_calls = blocks_run(DiffusersVideoRenderer(acceleration=accel()))
    exact, exact_calls = blocks_run(DiffusersVideoRenderer(acceleration=accel(cache="first_block",
                                                                              cache_threshold=0.0)))
    loose, loose_calls = blocks_run(DiffusersVideoRenderer(acceleration=accel(cache="first_block",
                                                                              cache_threshold=1e6)))
    assert plain_calls == 6 * 2  # six steps, guidance doubles the transformer calls
    assert exact_calls == plain_calls and np.array_equal(exact, plain)
    assert loose_calls < plain_calls  # the last block was skipped on cached steps
    assert not np.array_equal(loose, plain)


@pytest.mark.slow
def test_compiled_transformer_swaps_persona_loras_without_recompiling(tiny, loras):
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    compiled = DiffusersVideoRenderer(acceleration=accel(compile=True, lora_max_rank=8, steps_full=2))
    render(compiled, ctx(1, loras["ava"]))  # the first LoRA enters the graph: compiled here, once
    graphs = counters["stats"]["unique_graphs"]
    assert graphs > 0, "the transformer was not compiled"

    bea, _ = render(compiled, ctx(2, loras["bea"]))
    ava, _ = render(compiled, ctx(1, loras["ava"]))
    assert counters["stats"]["unique_graphs"] == graphs, "a persona swap compiled a new graph"
    assert compiled.adapters.resident == [compiled.adapters.active] and compiled.adapters.loads == 3
    assert compiled.pipeline().get_active_adapters() == [HOTSWAP_SLOT]

    eager = DiffusersVideoRenderer(acceleration=accel(steps_full=2))
    np.testing.assert_allclose(bea, render(eager, ctx(2, loras["bea"]))[0], atol=2)  # B's weights are in use
    np.testing.assert_allclose(ava, render(eager, ctx(1, loras["ava"]))[0], atol=2)
    assert not np.array_equal(ava, bea)
