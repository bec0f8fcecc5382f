"""One model, many callers: interactive work goes first.

The embedded model generates one request at a time (on two cores, concurrent
generations only thrash). Without an order, a user's reply queued behind the
memory extraction of every earlier exchange (each up to a few hundred JSON
tokens) and waited minutes on a busy machine. ``PriorityLock`` serves waiters
by priority, then arrival: chat replies and scene previews (someone is
waiting) before memory extraction and summaries (``SamplingParams.background``).
A running generation is never interrupted; the next turn simply goes to the
most urgent waiter.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager

INTERACTIVE = 0
BACKGROUND = 1


class PriorityLock:
    """A mutex whose waiters acquire it lowest priority value first, then first come."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._held = False
        self._waiting: list[tuple[int, int]] = []
        self._arrivals = itertools.count()

    @contextmanager
    def hold(self, priority: int = INTERACTIVE) -> Iterator[None]:
        with self._condition:
            ticket = (priority, next(self._arrivals))
            heapq.heappush(self._waiting, ticket)
            while self._held or self._waiting[0] != ticket:
                self._condition.wait()
            heapq.heappop(self._waiting)
            self._held = True
        try:
            yield
        finally:
            with self._condition:
                self._held = False
                self._condition.notify_all()

    def locked(self) -> bool:
        return self._held

    def waiting(self) -> int:
        with self._condition:
            return len(self._waiting)
