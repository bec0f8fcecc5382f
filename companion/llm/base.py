"""The one small interface every chat model backend implements.

Messages in, text deltas out, cancellable: closing the async iterator (or
cancelling the task consuming it) must stop generation promptly.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from pydantic import BaseModel

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
    max_tokens: int = 200
    stop: tuple[str, ...] = field(default_factory=tuple)
    seed: int | None = None


class BackendError(Exception):
    """The model could not produce (the rest of) a reply. ``code`` goes to the client."""

    code = "backend_error"


class BackendUnavailable(BackendError):
    """The endpoint is down, unreachable or timed out."""

    code = "backend_unavailable"


class StructuredOutputError(BackendError):
    """The model's structured output did not validate against the schema."""

    code = "structured_output_invalid"


class ChatBackend(abc.ABC):
    """A chat model. One instance per process, shared by all conversations."""

    name: str = "backend"

    @abc.abstractmethod
    def stream(
        self, turns: Sequence[ChatTurn], *, params: SamplingParams, adapter: str | None = None
    ) -> AsyncIterator[str]:
        """Yield text deltas of the assistant reply to ``turns``."""

    @abc.abstractmethod
    async def complete_json(
        self, turns: Sequence[ChatTurn], *, schema: type[SchemaT], params: SamplingParams
    ) -> SchemaT:
        """Return an instance of ``schema`` produced by schema-constrained decoding.

        Raises StructuredOutputError when the output still fails validation;
        callers keep a deterministic fallback for that case.
        """

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` costs in this model's prompt (a rough default)."""
        return max(1, len(text) // 4)

    async def healthcheck(self) -> None:
        """Raise BackendUnavailable when the backend cannot serve."""
