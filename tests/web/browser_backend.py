"""The chat backend the browser test's Daphne subprocess runs (LLM_BACKEND=<this class>).

A ScriptedBackend slowed to a visible stream, whose regenerations differ
("(take 2)") so alternatives can be told apart on screen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from companion.llm.base import ChatTurn
from companion.llm.scripted import ScriptedBackend


class SlowEchoBackend(ScriptedBackend):
    def __init__(self, *, token_delay_s: float = 0.12) -> None:
        super().__init__(token_delay_s=token_delay_s)
        self.answered: Counter[str] = Counter()

    def _next_reply(self, turns: Sequence[ChatTurn]) -> str:
        last_user = next((t.content for t in reversed(turns) if t.role == "user"), "")
        self.answered[last_user] += 1
        take = self.answered[last_user]
        return f"You said: {last_user}" + (f" (take {take})" if take > 1 else "")
