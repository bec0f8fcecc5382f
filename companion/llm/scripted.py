"""A deterministic backend for tests and benchmarks.

It is a real ChatBackend (same interface, same cancellation semantics) whose
output is scripted instead of sampled: tests set ``replies``/``json_replies``
or ``fail_after`` and assert on ``calls`` to see exactly what was sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pydantic import ValidationError

from companion.llm.base import (
    BackendError,
    ChatBackend,
    ChatTurn,
    SamplingParams,
    SchemaT,
    StructuredOutputError,
)


class ScriptedBackend(ChatBackend):
    name = "scripted"

    def __init__(self, *, token_delay_s: float = 0.0) -> None:
        self.token_delay_s = token_delay_s
        self.replies: list[str] = []  # consumed in order; then a default echo
        self.json_replies: list[Any] = []  # dicts/str returned by complete_json, in order
        self.fail_after: int | None = None  # raise BackendError after N deltas
        self.calls: list[dict[str, Any]] = []
        self.cancelled = 0

    def reset(self) -> None:
        self.__init__(token_delay_s=self.token_delay_s)

    def _next_reply(self, turns: Sequence[ChatTurn]) -> str:
        if self.replies:
            return self.replies.pop(0)
        last_user = next((t.content for t in reversed(turns) if t.role == "user"), "")
        return f"You said: {last_user}"

    async def _stream(
        self, turns: Sequence[ChatTurn], *, params: SamplingParams, adapter: str | None = None
    ) -> AsyncIterator[str]:
        self.calls.append({"turns": list(turns), "params": params, "adapter": adapter})
        text = self._next_reply(turns)
        # Word-sized deltas, spaces kept, so joining them gives the reply back.
        pieces = [w + " " for w in text.split(" ")]
        pieces[-1] = pieces[-1][:-1]
        try:
            for i, piece in enumerate(pieces):
                if self.fail_after is not None and i >= self.fail_after:
                    raise BackendError("scripted failure mid-stream")
                if self.token_delay_s:
                    await asyncio.sleep(self.token_delay_s)
                yield piece
        except (asyncio.CancelledError, GeneratorExit):
            self.cancelled += 1
            raise

    async def _complete_json(
        self, turns: Sequence[ChatTurn], *, schema: type[SchemaT], params: SamplingParams
    ) -> SchemaT:
        self.calls.append({"turns": list(turns), "params": params, "schema": schema})
        if not self.json_replies:
            raise StructuredOutputError("no scripted JSON reply")
        raw = self.json_replies.pop(0)
        try:
            return schema.model_validate_json(raw if isinstance(raw, str) else json.dumps(raw))
        except ValidationError as exc:
            raise StructuredOutputError(str(exc)) from exc
