"""A paced scripted backend for the multi-process topology, fault tests and the soak bench.

Same deterministic replies as ``ScriptedBackend`` (so a test can predict the
text), but configurable from the environment, because a Daphne process builds
its backend from settings: ``SCRIPTED_TOKEN_DELAY_S`` spaces the deltas so a
test can kill a process mid-stream, and ``SCRIPTED_REPLY_WORDS`` pads the reply
to a known length.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from companion.llm.base import ChatTurn
from companion.llm.scripted import ScriptedBackend


class PacedScriptedBackend(ScriptedBackend):
    name = "scripted-paced"

    def __init__(self, *, token_delay_s: float | None = None) -> None:
        if token_delay_s is None:
            token_delay_s = float(os.environ.get("SCRIPTED_TOKEN_DELAY_S", "0.02"))
        super().__init__(token_delay_s=token_delay_s)
        self.reply_words = int(os.environ.get("SCRIPTED_REPLY_WORDS", "0"))

    def reset(self) -> None:
        self.__init__(token_delay_s=self.token_delay_s)

    def _next_reply(self, turns: Sequence[ChatTurn]) -> str:
        text = super()._next_reply(turns)
        padding = [f"w{i}" for i in range(max(0, self.reply_words - len(text.split(" "))))]
        return " ".join([text, *padding]) if padding else text
