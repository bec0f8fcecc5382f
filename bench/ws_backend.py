"""Bench-only chat backend: emits tokens at a fixed rate, each stamped with its emit time.

Daphne loads it through ``LLM_BACKEND=bench.ws_backend.TimestampedBackend``
(PYTHONPATH = repository root). Each delta is ``"<index>:<time.time_ns()> "``,
so a client can compute backend-emit → client-receive latency per token.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Sequence

from companion.llm.base import ChatTurn, SamplingParams
from companion.llm.scripted import ScriptedBackend


class TimestampedBackend(ScriptedBackend):
    name = "bench-timestamped"

    def __init__(self) -> None:
        super().__init__()
        self.rate = float(os.environ.get("BENCH_TOKEN_RATE", "20"))  # tokens/s per reply
        self.tokens = int(os.environ.get("BENCH_REPLY_TOKENS", "40"))
        if os.environ.get("BENCH_NO_PROMPT_SECTIONS") == "1":
            # Measure the chat core alone: drop memory/relationship prompt sections
            # (they embed the query and search memories on every reply).
            from companion.chat import prompt

            prompt._providers.clear()

    async def _stream(
        self, turns: Sequence[ChatTurn], *, params: SamplingParams, adapter: str | None = None
    ) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.rate
        due = loop.time()
        for i in range(self.tokens):
            due += interval  # drift-free schedule
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            yield f"{i}:{time.time_ns()} "
