"""The diffusers renderer on a tiny random-weight Wan pipeline loaded through the real from_pretrained path."""

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import DiffusionPipeline

from rendering.adapters import AdapterCache
from rendering.errors import RenderCancelled, TransientRenderError
from rendering.renderers.base import RenderContext
from rendering.renderers.diffusers_video import DiffusersVideoRenderer, wan_frame_count
from tests.rendering.conftest import make_beat, wait_finished
from tests.rendering.wan_builder import make_lora


@pytest.fixture(scope="module")
def loras(tiny_wan_dir, tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """Two persona LoRAs trained-shape (random) with peft and saved with WanPipeline.save_lora_weights."""
    pipe = DiffusionPipeline.from_pretrained(tiny_wan_dir, dtype=torch.float32)
    out = {}
    for name, seed in (("ava", 1), ("bea", 2)):
        directory = tmp_path_factory.mktemp(f"lora-{name}")
        out[name] = (directory / "lora.safetensors", make_lora(pipe, directory, seed=seed))
    return out


@pytest.fixture
def tiny_settings(settings, tiny_wan_dir):
    settings.RENDER_PIPELINE_PATH = str(tiny_wan_dir)
    settings.RENDER_WIDTH = settings.RENDER_HEIGHT = 32
    settings.RENDER_FPS, settings.RENDER_STEPS, settings.RENDER_GUIDANCE_SCALE = 8, 2, 1.0
    settings.RENDER_LORA_CACHE_SIZE = 4
    return settings


def ctx(persona_id=1, lora=None, weight=1.0, seed=5) -> RenderContext:
    return RenderContext(job_id="t", beat=make_beat(duration_s=1.0, seed=seed), persona_id=persona_id,
                         persona_name="p", lora_path=str(lora) if lora else None, lora_weight=weight,
                         lora_trigger="sks woman", width=32, height=32, fps=8)



def loaded_lora_tensors(pipe, adapter: str) -> dict[str, torch.Tensor]:
    """The adapter's weights as they sit in the pipeline's transformer, under the saved file's key names."""
    suffix = f".{adapter}.weight"
    return {
        "transformer." + k.replace(suffix, ".weight"): v
        for k, v in pipe.transformer.state_dict().items()
        if k.endswith(suffix)
    }


def test_adapter_tensors_equal_the_saved_lora(tiny_settings, loras):
    renderer = DiffusersVideoRenderer()
    pipe = renderer.pipeline()
    for persona_id, name in ((1, "ava"), (2, "bea")):
        path, saved = loras[name]
        adapter = renderer.adapters.activate(path=str(path), persona_id=persona_id)
        loaded = loaded_lora_tensors(pipe, adapter)
        assert set(loaded) == set(saved) and len(saved) == 32
        for key, tensor in saved.items():
            assert torch.equal(loaded[key], tensor), key


def test_swap_personas_without_reloading_and_disable_gives_base_output(tiny_settings, loras, monkeypatch):
    calls = []
    original = DiffusionPipeline.from_pretrained.__func__

    def counting(cls, *args, **kwargs):
        calls.append(args)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(DiffusionPipeline, "from_pretrained", classmethod(counting))
    renderer = DiffusersVideoRenderer()
    progress: list = []
    base = np.asarray(renderer.render(ctx(), lambda *a: progress.append(a), lambda: False).frames)
    pipe_id = id(renderer.pipeline())
    ava = np.asarray(renderer.render(ctx(1, loras["ava"][0]), lambda *a: None, lambda: False).frames)
    bea = np.asarray(renderer.render(ctx(2, loras["bea"][0]), lambda *a: None, lambda: False).frames)
    ava_again = np.asarray(renderer.render(ctx(1, loras["ava"][0]), lambda *a: None, lambda: False).frames)
    base_again = np.asarray(renderer.render(ctx(), lambda *a: None, lambda: False).frames)

    assert len(calls) == 1 and id(renderer.pipeline()) == pipe_id  # the base pipeline was loaded once
    assert renderer.adapters.loads == 2  # each LoRA file read once; the second "ava" was a swap
    assert base.shape == (wan_frame_count(8), 32, 32, 3) and base.dtype == np.uint8
    assert not np.array_equal(ava, bea) and not np.array_equal(ava, base)
    assert np.array_equal(ava, ava_again)
    assert np.array_equal(base, base_again)  # disabling the LoRA gives the base model exactly
    assert [p[0] for p in progress if p[2] == "denoising"] == [1, 2]


def test_lru_eviction_deletes_the_oldest_adapter(tiny_settings, loras):
    tiny_settings.RENDER_LORA_CACHE_SIZE = 1
    renderer = DiffusersVideoRenderer()
    pipe = renderer.pipeline()
    first = renderer.adapters.activate(path=str(loras["ava"][0]), persona_id=1)
    second = renderer.adapters.activate(path=str(loras["bea"][0]), persona_id=2)
    assert renderer.adapters.resident == [second]
    assert first not in pipe.get_list_adapters().get("transformer", [])
    assert not loaded_lora_tensors(pipe, first)


def test_cancel_from_step_callback(tiny_settings):
    renderer = DiffusersVideoRenderer()
    steps = []
    with pytest.raises(RenderCancelled):
        renderer.render(ctx(), lambda *a: steps.append(a), lambda: True)
    assert [s for s in steps if s[2] == "denoising"] == [(1, 2, "denoising")]
    assert renderer.pipeline()._interrupt is False  # ready for the next job


def test_out_of_memory_is_transient_and_the_renderer_survives(tiny_settings, monkeypatch):
    renderer = DiffusersVideoRenderer()
    pipe = renderer.pipeline()
    real_forward = pipe.transformer.forward

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(pipe.transformer, "forward", oom)  # no GPU here to exhaust for real
    with pytest.raises(TransientRenderError):
        renderer.render(ctx(), lambda *a: None, lambda: False)
    monkeypatch.setattr(pipe.transformer, "forward", real_forward)
    assert renderer.render(ctx(), lambda *a: None, lambda: False).frame_count == wan_frame_count(8)


@pytest.mark.django_db(transaction=True)
def test_full_job_with_diffusers_renderer_and_persona_lora(worker, tiny_settings, loras, persona, user):
    from django.core.files import File

    from rendering import encode
    from rendering.services import render_job_request

    tiny_settings.RENDERER = "diffusers"
    with open(loras["ava"][0], "rb") as fh:
        persona.video_lora.save("ava.safetensors", File(fh))
    job, _ = render_job_request(persona=persona, beat=make_beat(duration_s=1.0), requested_by=user, source="s",
                                idempotency_key="gpu-path")
    wait_finished(job, timeout=120)
    assert job.status == "succeeded", job.error_detail
    info = encode.probe(job.clip.path)
    assert info["frames"] == wan_frame_count(8) == 9 and (info["width"], info["height"]) == (32, 32)


def test_adapter_cache_unit_names_change_when_the_file_changes(tmp_path):
    from rendering.adapters import adapter_name_for

    f = tmp_path / "x.safetensors"
    f.write_bytes(b"1")
    a = adapter_name_for(str(f), 3)
    f.write_bytes(b"22")
    assert adapter_name_for(str(f), 3) != a
    assert isinstance(AdapterCache(object(), 0).capacity, int)
