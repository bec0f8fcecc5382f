"""A user's reply never waits behind queued memory work for the one embedded model."""

from __future__ import annotations

import threading
import time

from companion.llm.scheduling import BACKGROUND, INTERACTIVE, PriorityLock


def _wait_until(predicate, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def test_an_interactive_waiter_goes_before_background_work_queued_earlier():
    lock = PriorityLock()
    order: list[str] = []
    release_first = threading.Event()

    def worker(name: str, priority: int, hold: threading.Event | None = None) -> None:
        with lock.hold(priority):
            order.append(name)
            if hold is not None:
                hold.wait(5)

    running = threading.Thread(target=worker, args=("memory-1", BACKGROUND, release_first))
    running.start()
    _wait_until(lock.locked)
    waiters = [threading.Thread(target=worker, args=("memory-2", BACKGROUND)),
               threading.Thread(target=worker, args=("memory-3", BACKGROUND))]
    for t in waiters:
        t.start()
    _wait_until(lambda: lock.waiting() == 2)
    reply = threading.Thread(target=worker, args=("reply", INTERACTIVE))
    reply.start()
    _wait_until(lambda: lock.waiting() == 3)
    release_first.set()
    for t in [running, *waiters, reply]:
        t.join(5)
    # The running generation finishes; then the reply; then the background work in arrival order.
    assert order == ["memory-1", "reply", "memory-2", "memory-3"]
    assert not lock.locked()


def test_the_lock_is_released_when_the_holder_fails():
    lock = PriorityLock()
    try:
        with lock.hold():
            raise RuntimeError("generation failed")
    except RuntimeError:
        pass
    acquired = threading.Event()
    threading.Thread(target=lambda: lock.hold().__enter__() or acquired.set()).start()
    assert acquired.wait(2)
