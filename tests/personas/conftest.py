"""Fixtures for the personas tests: a real peft LoRA, card builders, staff users."""

from __future__ import annotations

import base64
import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo


@pytest.fixture(scope="session")
def peft_lora_bytes(tmp_path_factory) -> bytes:
    """A real LoRA: peft's LoraConfig on a tiny torch module, saved with safetensors."""
    import torch
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict
    from safetensors.torch import save_file
    from torch import nn

    class Tiny(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q_proj = nn.Linear(16, 16)
            self.v_proj = nn.Linear(16, 24)
            self.head = nn.Linear(24, 4)

        def forward(self, x):
            return self.head(self.v_proj(self.q_proj(x)))

    torch.manual_seed(0)
    model = get_peft_model(Tiny(), LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    state = {k: v.contiguous() for k, v in get_peft_model_state_dict(model).items()}
    path: Path = tmp_path_factory.mktemp("lora") / "adapter.safetensors"
    save_file(state, str(path))
    return path.read_bytes()


def png_bytes(size: tuple[int, int] = (32, 48), color: tuple[int, int, int] = (200, 80, 40), **text: str) -> bytes:
    """A PNG made independently of our writer, with optional tEXt chunks."""
    info = PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def b64json(obj: Any) -> str:
    return base64.b64encode(json.dumps(obj).encode()).decode()


LOREBOOK = {
    "name": "Saltreach lore",
    "scan_depth": 4,
    "token_budget": 512,
    "recursive_scanning": False,
    "extensions": {"some_tool": {"colour": "teal"}},
    "entries": [
        {
            "keys": ["Gannet Point"],
            "content": "The lighthouse on Gannet Point has been dark since the flood.",
            "extensions": {},
            "enabled": True,
            "insertion_order": 0,
            "case_sensitive": False,
            "id": 1,
            "comment": "",
        }
    ],
}


def v2_card(**data_overrides: Any) -> dict[str, Any]:
    """A complete V2 card with a lorebook and fields no Persona column knows about."""
    data = {
        "name": "Ossian Reed",
        "description": "{{char}} is a ferryman who ferries letters across the fog.",
        "personality": "laconic, kind",
        "scenario": "The last ferry of the night.",
        "first_mes": "*He offers a hand.* Mind the gap.",
        "mes_example": "<START>\n{{user}}: Hello\n{{char}}: Evening.",
        "creator_notes": "Best with slow pacing.",
        "system_prompt": "Write as {{char}}.",
        "post_history_instructions": "Keep replies short.",
        "alternate_greetings": ["Fog again.", "You're late."],
        "character_book": copy.deepcopy(LOREBOOK),
        "tags": ["fantasy", "ferry"],
        "creator": "someone",
        "character_version": "2.1",
        "extensions": {"talkativeness": "0.5", "depth_prompt": {"prompt": "Be gentle.", "depth": 4}},
        "x_custom_field": {"nested": [1, 2, 3]},
    }
    data.update(data_overrides)
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": data, "x_top_level": "kept"}


def v3_card(**data_overrides: Any) -> dict[str, Any]:
    card = v2_card(**data_overrides)
    card["spec"], card["spec_version"] = "chara_card_v3", "3.0"
    card["data"].update(
        {
            "nickname": "Oss",
            "group_only_greetings": ["The ferry fills up."],
            "assets": [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
            "creation_date": 1700000000,
        }
    )
    return card


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("creator", "creator@example.com", "pw-creator-1")
    client.force_login(user)
    client.user = user
    return client
