"""The sweeper: work whose owner died is retried or ended visibly, never left hanging.

Dramatiq delivers at least once, the channel layer at most once, and a
process can die at any instruction. Each app recovers its own work; the
sweeper only runs those services, on a schedule:

- render jobs whose worker died or whose broker message was lost:
  ``rendering.recovery.render_jobs_recover`` (requeued, or failed with a reason
  the user reads in the chat);
- chat replies ``streaming`` whose Daphne died:
  ``companion.chat.services.reply_expire_stale`` (``interrupted``, text kept,
  ``message.done`` broadcast).

``sweep()`` is one pass; it runs from ``manage.py sweep_jobs`` (``--loop`` in
the Procfile), at ``serve`` start-up, and from a thread in each worker process
(``companion.runtime.dramatiq.Sweeper``; one pass per interval cluster-wide, by a
cache lock).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache

from companion.chat.services import reply_expire_stale
from rendering.recovery import render_jobs_recover

log = logging.getLogger(__name__)

LOCK_KEY = "ops:sweeper-lock"  # its name from when ops held the sweeper: kept, so rolling deploys share it


@dataclass
class SweepReport:
    requeued_running: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    requeued_lost: list[str] = field(default_factory=list)
    interrupted_replies: list[int] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return len(self.requeued_running) + len(self.failed) + len(self.requeued_lost) + len(self.interrupted_replies)


def sweep(
    *, render_stale_s: float | None = None, lost_s: float | None = None, stream_stale_s: float | None = None
) -> SweepReport:
    """One pass over render jobs and streaming replies (thresholds default to settings)."""
    renders = render_jobs_recover(stale_s=render_stale_s, lost_s=lost_s)
    replies = reply_expire_stale(stale_s=stream_stale_s)
    for message in replies:
        log.warning("reply %s: its stream owner is gone, marked interrupted", message.pk)
    return SweepReport(
        requeued_running=renders.requeued_running,
        failed=renders.failed,
        requeued_lost=renders.requeued_lost,
        interrupted_replies=[message.pk for message in replies],
    )


def sweep_if_due() -> SweepReport | None:
    """One pass, unless another process swept within the interval (shared-cache lock)."""
    if not cache.add(LOCK_KEY, 1, timeout=max(1, int(settings.SWEEP_INTERVAL_S * 0.9))):
        return None
    return sweep()
