"""LoRA uploads: a real peft LoRA is read; anything unsafe or malformed is refused with its reason."""

from __future__ import annotations

import io
import json
import pickle
import struct
import zipfile

import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile
from safetensors.torch import save

from personas.lora import LoraValidationError, inspect_lora
from personas.models import Persona
from personas.services import persona_attach_lora


def inspect(data: bytes, name: str = "adapter.safetensors"):
    return inspect_lora(io.BytesIO(data), filename=name, size=len(data))


def test_real_peft_lora_is_accepted_and_described(peft_lora_bytes):
    info = inspect(peft_lora_bytes)
    assert info.rank == 4
    assert info.target_modules == ["q_proj", "v_proj"]
    assert info.num_tensors == 4 and info.num_pairs == 2
    assert info.format == "peft"
    assert info.dtype == "F32"
    assert info.size_bytes == len(peft_lora_bytes)


def test_kohya_lora_with_alpha_tensors_is_read():
    tensors = {}
    for mod in ("lora_unet_blocks_0_attn_to_q", "lora_unet_blocks_0_attn_to_k"):
        out_f, in_f = 32, 16
        tensors[f"{mod}.lora_down.weight"] = torch.zeros(8, in_f, dtype=torch.float16)
        tensors[f"{mod}.lora_up.weight"] = torch.zeros(out_f, 8, dtype=torch.float16)
        tensors[f"{mod}.alpha"] = torch.tensor(6.0, dtype=torch.bfloat16)
    info = inspect(save(tensors))
    assert (info.rank, info.format, info.alpha, info.dtype) == (8, "kohya", 6.0, "F16")
    assert info.target_modules == ["to_k", "to_q"]


def test_alpha_from_peft_metadata(peft_lora_bytes):
    from safetensors.torch import load

    data = save(load(peft_lora_bytes), metadata={"lora_adapter_metadata": json.dumps({"r": 4, "lora_alpha": 8})})
    assert inspect(data).alpha == 8.0


@pytest.mark.parametrize("suffix", [".pt", ".ckpt", ".bin", ".pth"])
def test_pickle_checkpoint_extensions_are_refused(tmp_path, suffix):
    path = tmp_path / f"lora{suffix}"
    torch.save({"w": torch.zeros(2, 2)}, path)
    with pytest.raises(LoraValidationError, match=rf"'\{suffix}' files are refused: they are pickle-based"):
        inspect(path.read_bytes(), name=path.name)


def test_other_extensions_are_refused(peft_lora_bytes):
    with pytest.raises(LoraValidationError, match=r"Only \.safetensors LoRA files are accepted"):
        inspect(peft_lora_bytes, name="adapter.txt")


def test_pickle_renamed_to_safetensors_is_refused():
    data = pickle.dumps({"w": [1, 2, 3]}, protocol=4)
    with pytest.raises(LoraValidationError, match="contains pickle data"):
        inspect(data)


def test_renamed_zip_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(2, 2)}, path)  # modern torch.save writes a zip archive
    assert zipfile.is_zipfile(path)
    with pytest.raises(LoraValidationError, match="is a zip archive"):
        inspect(path.read_bytes(), name="model.safetensors")


def test_truncated_header_is_refused(peft_lora_bytes):
    (header_len,) = struct.unpack("<Q", peft_lora_bytes[:8])
    cut = peft_lora_bytes[: 8 + header_len // 2]
    with pytest.raises(LoraValidationError, match=rf"truncated: the header says {header_len} bytes"):
        inspect(cut)


def test_truncated_tensor_data_is_refused(peft_lora_bytes):
    with pytest.raises(LoraValidationError, match="extends past the end of the file"):
        inspect(peft_lora_bytes[:-10])


def test_trailing_bytes_are_refused(peft_lora_bytes):
    with pytest.raises(LoraValidationError, match="bytes after the last tensor"):
        inspect(peft_lora_bytes + b"\x00" * 16)


def test_absurd_header_length_is_refused():
    data = struct.pack("<Q", 2**62) + b"{}" * 10
    with pytest.raises(LoraValidationError, match=r"header length of \d+ bytes is absurd"):
        inspect(data)


def test_garbage_header_is_refused():
    junk = b"\x01\x02not json at all"
    with pytest.raises(LoraValidationError, match="not valid JSON"):
        inspect(struct.pack("<Q", len(junk)) + junk)


def test_oversized_file_is_refused(settings, peft_lora_bytes):
    settings.LORA_MAX_UPLOAD_BYTES = 1024
    with pytest.raises(LoraValidationError, match=r"The file is .* MB; the upload limit is 0\.0 MB"):
        inspect(peft_lora_bytes)


def test_full_model_weights_are_not_a_lora():
    data = save(torch.nn.Linear(4, 4).state_dict())
    with pytest.raises(LoraValidationError, match=r"Not a LoRA: found tensors that are not LoRA A/B matrices \(bias"):
        inspect(data)


def test_mismatched_ranks_are_refused():
    data = save({"m.lora_A.weight": torch.zeros(4, 16), "m.lora_B.weight": torch.zeros(16, 8)})
    with pytest.raises(LoraValidationError, match="the ranks do not match"):
        inspect(data)


def test_unpaired_matrix_is_refused():
    data = save({"m.lora_A.weight": torch.zeros(4, 16)})
    with pytest.raises(LoraValidationError, match="module 'm' has no matching B"):
        inspect(data)


def test_integer_lora_is_refused():
    data = save({"m.lora_A.weight": torch.zeros(4, 16, dtype=torch.int32), "m.lora_B.weight": torch.zeros(16, 4)})
    with pytest.raises(LoraValidationError, match="non-float dtype I32"):
        inspect(data)


@pytest.mark.django_db
def test_attach_lora_stores_file_and_metadata(peft_lora_bytes):
    persona = Persona.objects.create(name="Lora Holder")
    info = persona_attach_lora(
        persona=persona, upload=SimpleUploadedFile("face.safetensors", peft_lora_bytes)
    )
    persona.refresh_from_db()
    assert info.rank == 4
    assert persona.video_lora.name.startswith("personas/loras/face")
    assert persona.video_lora.read() == peft_lora_bytes
    assert persona.video_lora_meta["rank"] == 4
    assert persona.video_lora_meta["target_modules"] == ["q_proj", "v_proj"]


@pytest.mark.django_db
def test_attach_lora_refuses_bad_upload_and_stores_nothing():
    persona = Persona.objects.create(name="Careful")
    with pytest.raises(LoraValidationError):
        persona_attach_lora(persona=persona, upload=SimpleUploadedFile("x.safetensors", b"PK\x03\x04junk"))
    persona.refresh_from_db()
    assert not persona.video_lora and persona.video_lora_meta == {}
