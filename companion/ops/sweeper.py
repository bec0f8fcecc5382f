"""The sweeper: work whose owner died is retried or ended visibly, never left hanging.

Dramatiq delivers at least once, the channel layer at most once, and a
process can die at any instruction.  Three things can then be left behind:

- a render job ``running`` whose worker died (SIGKILL, OOM, machine lost):
  render workers heartbeat the jobs they hold into the shared cache
  (``RenderHeartbeat`` in companion.ops.dramatiq); a running job without a
  fresh heartbeat is re-enqueued while it has attempts left, else failed with
  a reason the user reads in the chat (rendering's ``job_updated`` "failed");
- a render job ``queued`` whose broker message is gone (Redis restarted
  without persistence, the embedded process restarted): re-enqueued when no
  pending message for it exists in the broker;
- a chat reply ``streaming`` whose Daphne died: marked ``interrupted`` with the
  text saved so far, and ``message.done`` is broadcast so open sockets update.

Re-enqueueing is safe because the render actor is idempotent: a delivery for a
finished job does nothing, and finishing is conditional on the job still
running (rendering.services).  ``sweep()`` is one pass; it runs from
``manage.py sweep_jobs`` (``--loop`` in the Procfile) and from a thread in each
worker process (one sweeper per interval cluster-wide, by a cache lock).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

log = logging.getLogger(__name__)

HEARTBEAT_KEY = "ops:render-heartbeat:{job_id}"
LOCK_KEY = "ops:sweeper-lock"


@dataclass
class SweepReport:
    requeued_running: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    requeued_lost: list[str] = field(default_factory=list)
    interrupted_replies: list[int] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return len(self.requeued_running) + len(self.failed) + len(self.requeued_lost) + len(self.interrupted_replies)


# --- heartbeats (written by render workers) ---------------------------------------------


def heartbeat_write(*, job_ids: list[str]) -> None:
    if job_ids:
        now = time.time()
        ttl = max(60, int(settings.SWEEP_RENDER_STALE_S * 4))
        cache.set_many({HEARTBEAT_KEY.format(job_id=j): now for j in job_ids}, timeout=ttl)


def heartbeat_age_s(*, job_id: str) -> float | None:
    beat = cache.get(HEARTBEAT_KEY.format(job_id=job_id))
    return None if beat is None else time.time() - beat


# --- the broker: is a message for this job still pending? ------------------------------


def _pending_job_ids(queue_name: str) -> set[str] | None:
    """Job ids (first actor argument) of every message the broker still holds for ``queue_name``.

    Includes messages being processed (unacked) and delayed retries. None when
    the broker cannot be inspected (then "lost" is never concluded).
    """
    import dramatiq
    from dramatiq.common import dq_name

    broker = dramatiq.get_broker()
    found: set[str] = set()
    client = getattr(broker, "client", None)
    if client is not None:  # RedisBroker: message bodies live in "<ns>:<queue>.msgs" hashes until acked
        namespace = getattr(broker, "namespace", "dramatiq")
        for name in (queue_name, dq_name(queue_name)):
            for raw in client.hvals(f"{namespace}:{name}.msgs"):
                found.update(_job_args(raw))
        return found
    queues = getattr(broker, "queues", None)
    if queues is None:
        return None
    for name in (queue_name, dq_name(queue_name)):
        queue = queues.get(name)
        if queue is not None:
            for message in list(queue.queue):
                found.update(_job_args(message))
    return found


def _job_args(raw: object) -> set[str]:
    import dramatiq

    try:
        data = dramatiq.get_encoder().decode(raw) if isinstance(raw, bytes | str) else raw
        args = data["args"] if isinstance(data, dict) else list(getattr(data, "args", ()))
    except Exception:
        return set()
    return {str(args[0])} if args else set()


# --- the pass ---------------------------------------------------------------------------


def _requeue(job, *, detail: str, expect_status: str) -> bool:
    """Back to queued (only if nobody changed it meanwhile) and a fresh broker message."""
    from rendering import actors
    from rendering.models import JobKind, JobStatus, RenderJob
    from rendering.signals import job_updated

    updated = RenderJob.objects.filter(pk=job.pk, status=expect_status, started_at=job.started_at).update(
        status=JobStatus.QUEUED, phase="requeued", error_detail=detail
    )
    if not updated:
        return False
    job.refresh_from_db()
    job_updated.send(sender=RenderJob, job=job, event="progress")
    actors.send_job(actors.render_reel if job.kind == JobKind.REEL else actors.render_clip, job)
    return True


def sweep_render_jobs(*, report: SweepReport, stale_s: float, lost_s: float) -> None:
    from rendering import services
    from rendering.actors import QUEUE
    from rendering.models import JobStatus, RenderJob

    now = timezone.now()
    max_attempts = settings.RENDER_MAX_RETRIES + 1
    running = RenderJob.objects.filter(status=JobStatus.RUNNING, started_at__lt=now - timedelta(seconds=stale_s))
    for job in running:
        age = heartbeat_age_s(job_id=str(job.pk))
        if age is not None and age < stale_s:
            continue  # a live worker holds it
        if job.attempts < max_attempts:
            if _requeue(job, detail="The render worker stopped; trying again.", expect_status=JobStatus.RUNNING):
                log.warning("render job %s: worker gone (attempt %d), re-enqueued", job.pk, job.attempts)
                report.requeued_running.append(str(job.pk))
        else:
            detail = f"Rendering stopped: the render worker stopped responding ({job.attempts} attempts)."
            if services.render_job_mark_failed(job_id=job.pk, detail=detail) is not None:
                report.failed.append(str(job.pk))

    queued = list(RenderJob.objects.filter(status=JobStatus.QUEUED, queued_at__lt=now - timedelta(seconds=lost_s)))
    if not queued:
        return
    pending = _pending_job_ids(QUEUE)
    if pending is None:
        return
    for job in queued:
        if str(job.pk) not in pending and _requeue(
            job, detail="", expect_status=JobStatus.QUEUED
        ):
            log.warning("render job %s: its queue message was lost, re-enqueued", job.pk)
            report.requeued_lost.append(str(job.pk))


def sweep_streaming_replies(*, report: SweepReport, stale_s: float) -> None:
    from companion.chat import services
    from companion.chat.groups import conversation_broadcast_sync
    from companion.chat.models import Message
    from companion.chat.serializers import message_payload

    cutoff = timezone.now() - timedelta(seconds=stale_s)
    for message in Message.objects.filter(status=Message.Status.STREAMING, updated_at__lt=cutoff):
        # Re-checked right before writing: the owner may have finished meanwhile.
        if not Message.objects.filter(pk=message.pk, status=Message.Status.STREAMING, updated_at__lt=cutoff).exists():
            continue
        finished = services.reply_finish(
            message_id=message.pk,
            content=message.content,
            status=Message.Status.INTERRUPTED,
            error_detail="The server writing this reply stopped; the text so far is kept.",
        )
        report.interrupted_replies.append(message.pk)
        log.warning("reply %s: its stream owner is gone, marked interrupted", message.pk)
        try:
            frame = {"type": "message.done", "message": message_payload(finished)}
            conversation_broadcast_sync(message.conversation_id, frame)
        except Exception:  # at-most-once anyway: clients reconcile with history.sync
            log.warning("could not broadcast the interrupted reply %s", message.pk, exc_info=True)


def sweep(
    *, render_stale_s: float | None = None, lost_s: float | None = None, stream_stale_s: float | None = None
) -> SweepReport:
    """One pass over render jobs and streaming replies (thresholds default to settings)."""
    report = SweepReport()
    sweep_render_jobs(
        report=report,
        stale_s=settings.SWEEP_RENDER_STALE_S if render_stale_s is None else render_stale_s,
        lost_s=settings.SWEEP_QUEUED_LOST_S if lost_s is None else lost_s,
    )
    sweep_streaming_replies(
        report=report, stale_s=settings.SWEEP_STREAM_STALE_S if stream_stale_s is None else stream_stale_s
    )
    return report


def sweep_if_due() -> SweepReport | None:
    """One pass, unless another process swept within the interval (shared-cache lock)."""
    if not cache.add(LOCK_KEY, 1, timeout=max(1, int(settings.SWEEP_INTERVAL_S * 0.9))):
        return None
    return sweep()
