"""Stop strings applied to streamed text: what a backend does when the model (or server) cannot.

The embedded backend decodes token by token and stops here; the openai backend uses it for the
stop strings past the four an OpenAI-compatible server accepts.
"""

from __future__ import annotations

from collections.abc import Sequence


class StopText:
    """Turns decoded text pieces into deltas that never contain a stop string, nor the start of one.

    Text that could be the beginning of a stop string is held back until the
    next piece shows whether it is; ``flush`` releases it at the end.
    """

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [s for s in stops if s]
        self._longest = max((len(s) for s in self.stops), default=0)
        self.text = ""
        self._sent = 0
        self.hit = False

    def feed(self, piece: str) -> str:
        """The new delta (maybe empty) after ``piece``; sets ``hit`` when a stop string completed."""
        self.text += piece
        search_from = max(0, self._sent - self._longest)
        hits = [i for i in (self.text.find(s, search_from) for s in self.stops) if i >= 0]
        if hits:
            self.hit = True
            self.text = self.text[: min(hits)]
            return self._release(len(self.text))
        return self._release(len(self.text) - _held_back(self.text, self.stops))

    def flush(self) -> str:
        return self._release(len(self.text))

    def _release(self, end: int) -> str:
        if end <= self._sent:
            return ""
        delta, self._sent = self.text[self._sent : end], end
        return delta


def _held_back(text: str, stops: Sequence[str]) -> int:
    """Length of the longest tail of ``text`` that is a proper prefix of a stop string."""
    best = 0
    for stop in stops:
        for k in range(min(len(stop) - 1, len(text)), best, -1):
            if text.endswith(stop[:k]):
                best = k
                break
    return best
