"""`manage.py llm_adapter_load NAME PATH`: have the vLLM server load a persona's LoRA now, without a restart.

PATH is the adapter folder (PEFT ``adapter_config.json`` + weights) as the vLLM host sees it;
NAME is what the persona's "LLM adapter" field says. The server must run with
VLLM_ALLOW_RUNTIME_LORA_UPDATING=True, and forgets runtime adapters when it restarts: list the
adapter with ``--lora-modules NAME=PATH`` too (docs/vllm.md).
"""

from __future__ import annotations

import asyncio

from django.core.management.base import BaseCommand, CommandError, CommandParser

from companion.llm.base import BackendError
from companion.llm.openai_compat import OpenAICompatibleBackend
from companion.llm.registry import get_backend


class Command(BaseCommand):
    help = "Load a LoRA adapter into the configured vLLM server at runtime (POST /v1/load_lora_adapter)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the model name the adapter serves as (the persona's LLM adapter)")
        parser.add_argument("path", help="the adapter folder on the vLLM host")

    def handle(self, *args, name: str, path: str, **options) -> None:
        backend = get_backend()
        if not isinstance(backend, OpenAICompatibleBackend):
            raise CommandError(f"LLM_BACKEND is {backend.name!r}: adapters are loaded into a served (openai) backend")
        try:
            models = asyncio.run(self._load(backend, name, path))
        except BackendError as exc:
            raise CommandError(f"loading {name} failed: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"{name} loaded; the server now serves: {', '.join(models)}"))

    async def _load(self, backend: OpenAICompatibleBackend, name: str, path: str) -> list[str]:
        await backend.adapter_load(name, path)
        return await backend.list_models()
