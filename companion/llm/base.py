"""The one small interface every chat model backend implements.

Messages in, text deltas out, cancellable: closing the async iterator (or
cancelling the task consuming it) must stop generation promptly.

Subclasses implement ``_stream`` and ``_complete_json``; callers use the public
``stream`` and ``complete_json``, which first check where they are called from
(``guard.model_call_guard``: never in a transaction or on the shared DB thread)
and bound structured output by a timeout.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from django.conf import settings
from pydantic import BaseModel

from companion.core.errors import ApplicationError
from companion.llm.guard import model_call_guard

Role = Literal["system", "user", "assistant"]
SchemaT = TypeVar("SchemaT", bound=BaseModel)


@dataclass(frozen=True)
class ChatTurn:
    role: Role
    content: str


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.8
    top_p: float = 0.95
    min_p: float = 0.0  # 0 = off
    repetition_penalty: float | None = None  # None = the backend's default
    max_tokens: int = 200
    stop: tuple[str, ...] = field(default_factory=tuple)
    seed: int | None = None
    background: bool = False  # nobody waits for it (memory, summaries): yields the model to replies


class BackendError(ApplicationError):
    """The model could not produce (the rest of) a reply. ``code`` goes to the client."""

    code = "backend_error"

    def __init__(self, detail: str = "") -> None:
        super().__init__(type(self).code, detail)


class BackendUnavailable(BackendError):
    """The endpoint is down, unreachable or timed out."""

    code = "backend_unavailable"


class StructuredOutputError(BackendError):
    """The model's structured output did not validate against the schema."""

    code = "structured_output_invalid"


class ChatBackend(abc.ABC):
    """A chat model. One instance per process, shared by all conversations."""

    name: str = "backend"

    def stream(
        self, turns: Sequence[ChatTurn], *, params: SamplingParams, adapter: str | None = None
    ) -> AsyncIterator[str]:
        """Yield text deltas of the assistant reply to ``turns``.

        The caller bounds the whole reply (it alone knows how long a reply may
        take); the backend bounds the wait for each token.
        """
        model_call_guard(f"{self.name} chat stream")
        return self._stream(turns, params=params, adapter=adapter)

    async def complete_json(
        self,
        turns: Sequence[ChatTurn],
        *,
        schema: type[SchemaT],
        params: SamplingParams,
        timeout_s: float | None = None,
    ) -> SchemaT:
        """Return an instance of ``schema`` produced by schema-constrained decoding.

        Raises StructuredOutputError when the output still fails validation and
        BackendUnavailable after ``timeout_s`` (default settings.LLM_JSON_TIMEOUT_S);
        callers keep a deterministic fallback for both.
        """
        model_call_guard(f"{self.name} structured output")
        limit = timeout_s if timeout_s is not None else settings.LLM_JSON_TIMEOUT_S
        try:
            return await asyncio.wait_for(self._complete_json(turns, schema=schema, params=params), limit)
        except TimeoutError as exc:
            raise BackendUnavailable(f"{self.name}: no structured output within {limit:g} s") from exc

    @abc.abstractmethod
    def _stream(
        self, turns: Sequence[ChatTurn], *, params: SamplingParams, adapter: str | None = None
    ) -> AsyncIterator[str]:
        """The backend's own streaming (an async generator)."""

    @abc.abstractmethod
    async def _complete_json(
        self, turns: Sequence[ChatTurn], *, schema: type[SchemaT], params: SamplingParams
    ) -> SchemaT:
        """The backend's own structured output; cancelled by the timeout in complete_json."""

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` costs in this model's prompt (a rough default)."""
        return max(1, len(text) // 4)

    async def healthcheck(self) -> None:
        """Raise BackendUnavailable when the backend cannot serve."""
