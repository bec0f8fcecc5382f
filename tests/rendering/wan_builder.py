"""Builds random-weight Wan pipelines offline (tests use the tiny one; bench/render_gpu.py the 1.3B-sized one).

The text encoder is always tiny: it runs once per clip, while the transformer
(run every step) and the VAE decode carry the cost that matters.
"""

from __future__ import annotations

from pathlib import Path

import torch

# Published Wan 2.1 T2V 1.3B transformer config (same compute as the real weights).
WAN21_1_3B_TRANSFORMER = {
    "patch_size": (1, 2, 2),
    "num_attention_heads": 12,
    "attention_head_dim": 128,
    "in_channels": 16,
    "out_channels": 16,
    "text_dim": 4096,
    "freq_dim": 256,
    "ffn_dim": 8960,
    "num_layers": 30,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
    "eps": 1e-6,
    "rope_max_seq_len": 1024,
}
TINY_TRANSFORMER = {
    **WAN21_1_3B_TRANSFORMER,
    "num_attention_heads": 2,
    "attention_head_dim": 12,
    "text_dim": 32,
    "freq_dim": 16,
    "ffn_dim": 32,
    "num_layers": 2,
    "rope_max_seq_len": 32,
}


def _tokenizer(directory: Path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = "a the she he smiles walks rain city night light camera slow neon beach room".split()
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{w: i + 3 for i, w in enumerate(words)}}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def build_wan_pipeline(directory: Path, *, size: str = "tiny", seed: int = 0, dtype: torch.dtype | None = None) -> Path:
    """Save a random-weight WanPipeline to ``directory`` (loadable with DiffusionPipeline.from_pretrained).

    ``dtype`` casts before saving (the 1.3B bench saves bfloat16: half the bytes to write and read back).
    """
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline, WanTransformer3DModel
    from transformers import T5Config, UMT5EncoderModel

    torch.manual_seed(seed)
    config = TINY_TRANSFORMER if size == "tiny" else WAN21_1_3B_TRANSFORMER
    transformer = WanTransformer3DModel(**config)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True]) if size == "tiny" else AutoencoderKLWan()
    text_encoder = UMT5EncoderModel(
        T5Config(vocab_size=32, d_model=config["text_dim"], d_kv=16, d_ff=64, num_layers=1, num_heads=2,
                 relative_attention_num_buckets=8, relative_attention_max_distance=16)
    )
    pipe = WanPipeline(
        tokenizer=_tokenizer(directory),
        text_encoder=text_encoder,
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
    )
    if dtype is not None:
        pipe.to(dtype)
    pipe.save_pretrained(directory)
    return directory


def make_lora(pipe, directory: Path, *, seed: int, rank: int = 4) -> dict[str, torch.Tensor]:
    """A real peft LoRA on ``pipe.transformer`` with random (non-zero) weights, saved with save_lora_weights.

    Returns the saved state dict (diffusers key names) so tests can compare what gets loaded.
    """
    from diffusers import WanPipeline
    from peft import LoraConfig, get_peft_model_state_dict
    from safetensors.torch import load_file

    config = LoraConfig(r=rank, lora_alpha=rank, target_modules=["to_q", "to_k", "to_v", "to_out.0"],
                        init_lora_weights=False)
    adapter = f"train_{seed}"
    torch.manual_seed(seed)
    pipe.transformer.add_adapter(config, adapter_name=adapter)
    state = get_peft_model_state_dict(pipe.transformer, adapter_name=adapter)
    state = {k: v.detach().clone() for k, v in state.items()}
    pipe.transformer.delete_adapters(adapter)
    WanPipeline.save_lora_weights(directory, transformer_lora_layers=state, weight_name="lora.safetensors")
    return load_file(str(directory / "lora.safetensors"))


def build_wan_i2v_pipeline(directory: Path, *, seed: int = 0) -> Path:
    """Save a tiny random-weight WanImageToVideoPipeline (the portrait-conditioned variant).

    Same tiny text side and VAE as build_wan_pipeline, plus what image-to-video needs: a
    transformer taking 36 input channels (16 noise latents + 4 mask + 16 latents of the
    conditioning image) with ``image_dim`` for the CLIP image tokens, a tiny
    ``CLIPVisionModelWithProjection`` and a ``CLIPImageProcessor`` cropping to 32 px, all
    built offline (shapes as in diffusers' own tests for this pipeline). The image encoder is
    a plain ``CLIPVisionModel``, the class the pipeline declares and the published Wan 2.1
    image-to-video checkpoints ship (it reads the penultimate hidden states).
    """
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanTransformer3DModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel, T5Config, UMT5EncoderModel

    torch.manual_seed(seed)
    vision = CLIPVisionConfig(hidden_size=4, num_hidden_layers=2, num_attention_heads=2,
                              image_size=32, intermediate_size=16, patch_size=1)
    transformer = WanTransformer3DModel(**{**TINY_TRANSFORMER, "in_channels": 36, "image_dim": vision.hidden_size})
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    text_encoder = UMT5EncoderModel(
        T5Config(vocab_size=32, d_model=TINY_TRANSFORMER["text_dim"], d_kv=16, d_ff=64, num_layers=1, num_heads=2,
                 relative_attention_num_buckets=8, relative_attention_max_distance=16)
    )
    pipe = WanImageToVideoPipeline(
        tokenizer=_tokenizer(directory),
        text_encoder=text_encoder,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        image_processor=CLIPImageProcessor(crop_size=32, size=32),
        image_encoder=CLIPVisionModel(vision),
        transformer=transformer,
    )
    pipe.save_pretrained(directory)
    return directory
