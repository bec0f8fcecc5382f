"""`manage.py llm_check`: what the configured chat backend answers, before users find out.

Prints the models it serves (the OpenAI-compatible ``/v1/models``; the GGUF
for the embedded backend), a 5-token completion with its latency, and whether
schema-constrained JSON works. Exits 1 when any of them fails, so it can gate
a deploy:

    LLM_BACKEND=openai LLM_BASE_URL=http://127.0.0.1:11434/v1 LLM_MODEL=smollm2 manage.py llm_check
"""

from __future__ import annotations

import asyncio
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from pydantic import BaseModel, Field

from companion.llm.base import BackendError, ChatBackend, ChatTurn, SamplingParams
from companion.llm.registry import get_backend

PROMPT = [
    ChatTurn("system", "You are a helpful assistant."),
    ChatTurn("user", "Say hello in a few words."),
]
JSON_PROMPT = [
    ChatTurn("system", "Answer the question as JSON."),
    ChatTurn("user", "Is the sea salty? Give a one-word reason too."),
]


class Answer(BaseModel):
    answer: bool
    reason: str = Field(max_length=40)


class Command(BaseCommand):
    help = "Check the configured chat backend: model list, a 5-token completion, structured output."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tokens", type=int, default=5, help="tokens for the test completion")

    def handle(self, *args, tokens: int, **options) -> None:
        backend = get_backend()
        self.stdout.write(f"backend: {backend.name} ({type(backend).__name__}) {_where(backend)}".rstrip())
        failures = asyncio.run(self._check(backend, tokens))
        if failures:
            raise CommandError(f"{len(failures)} check(s) failed: {', '.join(failures)}")
        self.stdout.write(self.style.SUCCESS("llm_check: OK"))

    async def _check(self, backend: ChatBackend, tokens: int) -> list[str]:
        failures: list[str] = []

        started = time.perf_counter()
        try:
            models = await _models(backend)
        except BackendError as exc:
            failures.append("models")
            self._fail(f"models: FAILED ({exc})")
        else:
            self.stdout.write(f"models: {', '.join(models) or '(none)'} [{time.perf_counter() - started:.2f} s]")

        started = time.perf_counter()
        first: float | None = None
        parts: list[str] = []
        try:
            async for delta in backend.stream(PROMPT, params=SamplingParams(temperature=0.0, max_tokens=tokens)):
                first = first if first is not None else time.perf_counter() - started
                parts.append(delta)
        except BackendError as exc:
            failures.append("completion")
            self._fail(f"completion: FAILED ({exc})")
        else:
            total = time.perf_counter() - started
            if not "".join(parts).strip():
                failures.append("completion")
                self._fail(f"completion: FAILED (empty reply after {total:.2f} s)")
            else:
                self.stdout.write(
                    f"completion ({tokens} tokens): {''.join(parts)!r} "
                    f"[first token {first or total:.2f} s, total {total:.2f} s]"
                )

        started = time.perf_counter()
        try:
            answer = await backend.complete_json(
                JSON_PROMPT,
                schema=Answer,
                params=SamplingParams(temperature=0.0, max_tokens=64),
                timeout_s=settings.LLM_JSON_TIMEOUT_S,
            )
        except BackendError as exc:
            failures.append("structured output")
            self._fail(f"structured output: no ({exc})")
        else:
            self.stdout.write(
                f"structured output: yes {answer.model_dump_json()} [{time.perf_counter() - started:.2f} s]"
            )
        return failures

    def _fail(self, line: str) -> None:
        self.stdout.write(self.style.ERROR(line))


def _where(backend: ChatBackend) -> str:
    try:
        return str(getattr(backend, "base_url", None) or getattr(backend, "path", ""))
    except BackendError as exc:  # e.g. the embedded GGUF is missing: the checks below say so
        return f"({exc})"


async def _models(backend: ChatBackend) -> list[str]:
    """What the backend serves: the endpoint's model list, or the embedded GGUF's file name."""
    list_models = getattr(backend, "list_models", None)
    if list_models is not None:
        return await list_models()
    path = getattr(backend, "path", None)
    if path is not None:
        return [path.name]
    return [backend.name]
