"""Render jobs whose worker or broker message is gone are queued again, or failed visibly.

Dramatiq delivers at least once and a worker can die at any instruction
(SIGKILL, OOM, machine lost), which leaves two kinds of orphan:

- ``running`` with no fresh heartbeat (``rendering.worker``) for ``stale_s``:
  requeued while it has attempts left (``render_job_requeue``), else failed
  with a reason the user reads (``render_job_mark_failed``, "failed" event);
- ``queued`` for ``lost_s`` with no message for it in the broker
  (``rendering.broker``): requeued.

Both are safe to repeat: the actors ignore a finished job, and a requeue only
applies if the row did not change since it was read. ``render_jobs_recover``
is one pass; companion's sweeper schedules it (and chat's stale replies).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from rendering.broker import pending_job_ids
from rendering.models import JobStatus, RenderJob
from rendering.services import render_job_mark_failed, render_job_requeue
from rendering.worker import QUEUE, heartbeat_age_s

log = logging.getLogger(__name__)


@dataclass
class RecoveryReport:
    requeued_running: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    requeued_lost: list[str] = field(default_factory=list)


def render_jobs_recover(*, stale_s: float | None = None, lost_s: float | None = None) -> RecoveryReport:
    """One pass over running and queued jobs (thresholds default to SWEEP_RENDER_STALE_S / SWEEP_QUEUED_LOST_S)."""
    stale_s = settings.SWEEP_RENDER_STALE_S if stale_s is None else stale_s
    lost_s = settings.SWEEP_QUEUED_LOST_S if lost_s is None else lost_s
    report = RecoveryReport()
    now = timezone.now()
    max_attempts = settings.RENDER_MAX_RETRIES + 1
    running = RenderJob.objects.filter(status=JobStatus.RUNNING, started_at__lt=now - timedelta(seconds=stale_s))
    for job in running:
        age = heartbeat_age_s(job_id=str(job.pk))
        if age is not None and age < stale_s:
            continue  # a live worker holds it
        if job.attempts < max_attempts:
            if render_job_requeue(job=job, detail="The render worker stopped; trying again."):
                log.warning("render job %s: worker gone (attempt %d), re-enqueued", job.pk, job.attempts)
                report.requeued_running.append(str(job.pk))
        else:
            detail = f"Rendering stopped: the render worker stopped responding ({job.attempts} attempts)."
            if render_job_mark_failed(job_id=job.pk, detail=detail) is not None:
                report.failed.append(str(job.pk))

    queued = list(RenderJob.objects.filter(status=JobStatus.QUEUED, queued_at__lt=now - timedelta(seconds=lost_s)))
    pending = pending_job_ids(QUEUE) if queued else None
    if pending is None:
        return report
    for job in queued:
        if str(job.pk) not in pending and render_job_requeue(job=job):
            log.warning("render job %s: its queue message was lost, re-enqueued", job.pk)
            report.requeued_lost.append(str(job.pk))
    return report
