"""What a render worker adds to Dramatiq: the render queue, job heartbeats, and their middleware.

Render actors take the job id as their first argument and run on ``QUEUE``.
While a worker process holds a job it writes a heartbeat for it into the
shared cache: once when it claims the job (rendering.services) and then
every ``SWEEP_HEARTBEAT_S`` from a daemon thread. A delivery of a job that
is ``running`` with a fresh heartbeat is a duplicate and does nothing. A ``running`` job whose heartbeat
is older than ``SWEEP_RENDER_STALE_S`` has lost its worker
(``rendering.recovery``). The thread dies with the process, so a SIGKILLed
worker stops heartbeating, which is exactly what recovery looks for.

This module is loaded when the broker is built (settings.DRAMATIQ_BROKER),
before any app or actor exists: it imports no models and no actors.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from dramatiq.common import dq_name
from dramatiq.middleware import Middleware

log = logging.getLogger(__name__)

QUEUE = "render"  # the render actors' queue (rendering.actors)
HEARTBEAT_KEY = "ops:render-heartbeat:{job_id}"  # unchanged since it was written by companion.ops: rolling deploys


def render_job_id(message: Any) -> str | None:
    """The render job a Dramatiq message is about, or None for any other message."""
    if message.queue_name in (QUEUE, dq_name(QUEUE)) and message.args:
        return str(message.args[0])
    return None


def heartbeat_write(*, job_ids: list[str]) -> None:
    if job_ids:
        now = time.time()
        ttl = max(60, int(settings.SWEEP_RENDER_STALE_S * 4))
        cache.set_many({HEARTBEAT_KEY.format(job_id=j): now for j in job_ids}, timeout=ttl)


def heartbeat_age_s(*, job_id: str) -> float | None:
    """Seconds since a worker last said it holds ``job_id``; None when none ever did (or it expired)."""
    beat = cache.get(HEARTBEAT_KEY.format(job_id=job_id))
    return None if beat is None else time.time() - beat


class RenderHeartbeat(Middleware):
    """Heartbeats for the render jobs this process is working on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, int] = {}  # job id -> messages in progress for it
        self._thread: threading.Thread | None = None

    def after_process_boot(self, broker: Any) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="render-heartbeat", daemon=True)
            self._thread.start()

    def before_process_message(self, broker: Any, message: Any) -> None:
        job = render_job_id(message)
        if job is not None:
            # No beat here: a duplicate delivery must not make a dead worker's job look held. The
            # claim (services.render_job_mark_running) writes the first heartbeat; this thread the rest.
            with self._lock:
                self._jobs[job] = self._jobs.get(job, 0) + 1

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None, exception: Any = None) -> None:
        job = render_job_id(message)
        if job is not None:
            with self._lock:
                left = self._jobs.get(job, 1) - 1
                if left > 0:
                    self._jobs[job] = left
                else:
                    self._jobs.pop(job, None)

    after_skip_message = after_process_message

    @property
    def held(self) -> list[str]:
        with self._lock:
            return list(self._jobs)

    def _beat(self, jobs: list[str]) -> None:
        try:
            heartbeat_write(job_ids=jobs)
        except Exception:  # Redis away: the next beat retries; recovery waits SWEEP_RENDER_STALE_S
            log.warning("render heartbeat failed", exc_info=True)

    def _loop(self) -> None:
        while True:
            time.sleep(settings.SWEEP_HEARTBEAT_S)
            self._beat(self.held)
