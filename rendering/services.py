"""Render job services: request, cancel, reels, and the state changes the worker makes.

Every state change goes through here so the ``job_updated`` signal is sent
exactly once per change, from the process that made it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from personas.models import Persona
from rendering.beat import SceneBeat
from rendering.models import FINISHED, JobKind, JobStatus, RenderJob
from rendering.previews import PREVIEW_MIN_INTERVAL_S, Preview, preview_drop, preview_encode, preview_store
from rendering.safety import Verdict, render_safety_gate
from rendering.signals import job_updated
from rendering.worker import heartbeat_age_s, heartbeat_write

log = logging.getLogger(__name__)

PROGRESS_MIN_INTERVAL_S = 0.2  # at most ~5 progress events per second per job


class ReelInvalid(ValueError):
    """The clips picked for a reel cannot be assembled (the message says why)."""


def _send(job: RenderJob, event: str, *, preview: Preview | None = None) -> None:
    if event in ("done", "failed", "cancelled"):
        try:
            preview_drop(job_id=str(job.pk))  # the clip (or the notice) replaces it
        except Exception:  # the cache is away: the preview expires on its own
            log.warning("render job %s: could not drop its preview", job.pk, exc_info=True)
    if preview is None:
        job_updated.send(sender=RenderJob, job=job, event=event)
    else:
        job_updated.send(sender=RenderJob, job=job, event=event, preview=preview)


def _enqueue(job: RenderJob) -> None:
    from rendering import actors  # actors import this module

    actor = actors.render_reel if job.kind == JobKind.REEL else actors.render_clip
    actors.send_job(actor, job)


def _queue_on_commit(job: RenderJob) -> None:
    def after_commit() -> None:
        _send(job, "queued")
        _enqueue(job)

    transaction.on_commit(after_commit)


def render_job_request(
    *,
    persona: Persona,
    beat: SceneBeat | dict[str, Any],
    requested_by,
    source: str,
    idempotency_key: str,
    model_verdict: Verdict | None = None,
    link: Callable[[RenderJob], Any] | None = None,
    continues: RenderJob | None = None,
) -> tuple[RenderJob, bool]:
    """Queue a clip for ``beat``; returns (job, created). The same idempotency_key returns the first job.

    ``continues``: a finished clip this one picks up from (its last frame starts this one,
    rendering.continuity); the beat is the requester's, and goes through the same gate.

    ``source`` is a free-form label for people (admin search, the refusal log); nothing parses it.
    ``link(job)`` runs in the transaction that creates the job, before ``queued`` is sent and the
    worker can see it: the requester stores there what the job belongs to on its side, so every
    job event already finds that.

    The safety gate runs first: raises ``rendering.safety.RenderRefused`` (after logging a
    SafetyRefusal) when it refuses. ``model_verdict`` is the guard model's verdict on the final
    prompt, awaited by the caller beforehand (``rendering.safety.render_request_verdict``) when a
    SAFETY_MODEL is configured; without it the worker asks the model before rendering. This
    function never calls a model, so it may run on the shared database thread.
    """
    beat = beat if isinstance(beat, SceneBeat) else SceneBeat.model_validate(beat)
    render_safety_gate(
        persona=persona, beat=beat, requested_by=requested_by, source=source, model_verdict=model_verdict
    )
    existing = RenderJob.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            job = RenderJob.objects.create(
                persona=persona,
                beat=beat.model_dump(mode="json"),
                requested_by=requested_by,
                source=source,
                idempotency_key=idempotency_key,
                kind=JobKind.CLIP,
                progress_total=0,
                phase="queued",
                continues=continues,
            )
            if link is not None:
                link(job)
    except IntegrityError:  # a concurrent double-click won the race
        return RenderJob.objects.get(idempotency_key=idempotency_key), False
    _queue_on_commit(job)
    return job, True


def reel_request(
    *, jobs: list[RenderJob], requested_by, source: str, idempotency_key: str,
    link: Callable[[RenderJob], Any] | None = None,
) -> tuple[RenderJob, bool]:
    """Queue a reel that concatenates the given succeeded clips, in the given order (``source``, ``link``:
    as for ``render_job_request``)."""
    existing = RenderJob.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing, False
    if not jobs:
        raise ReelInvalid("Pick at least one clip for the reel.")
    for part in jobs:
        if part.kind != JobKind.CLIP or part.status != JobStatus.SUCCEEDED or not part.clip:
            raise ReelInvalid("Only finished clips can go into a reel.")
    try:
        with transaction.atomic():
            job = RenderJob.objects.create(
                persona=jobs[0].persona,
                beat={},
                requested_by=requested_by,
                source=source,
                idempotency_key=idempotency_key,
                kind=JobKind.REEL,
                parts=[str(part.id) for part in jobs],
                phase="queued",
            )
            if link is not None:
                link(job)
    except IntegrityError:
        return RenderJob.objects.get(idempotency_key=idempotency_key), False
    _queue_on_commit(job)
    return job, True


def render_job_cancel(*, job: RenderJob) -> RenderJob:
    """Cancel a queued or running job; the worker notices between frames/steps and stops."""
    updated = RenderJob.objects.filter(pk=job.pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).update(
        status=JobStatus.CANCELLED, phase="cancelled", finished_at=timezone.now()
    )
    job.refresh_from_db()
    if updated:
        _send(job, "cancelled")
    return job


# --- state changes made by the worker ----------------------------------------
# Jobs this process is rendering right now (claimed, not yet released): a second delivery of one of
# them in this process is a duplicate even before any heartbeat was written.
_claim_lock = threading.Lock()
_running_here: set[str] = set()


def _held_by_a_live_worker(job: RenderJob) -> bool:
    """A ``running`` job some worker still holds: this process, or a fresh heartbeat from another."""
    if str(job.pk) in _running_here:
        return True
    age = heartbeat_age_s(job_id=str(job.pk))
    return age is not None and age < settings.SWEEP_RENDER_STALE_S


def render_job_mark_running(*, job_id: str) -> RenderJob | None:
    """Claim the job for this attempt; None when this delivery must do nothing.

    Nothing for a finished, cancelled or missing job, and nothing for a job that is ``running``
    in a live worker (this process, or a heartbeat younger than SWEEP_RENDER_STALE_S): Dramatiq
    delivers at least once, and a second delivery while the first renders must not render it
    twice. A ``running`` job nobody holds was claimed by a worker that died: this delivery
    restarts it (or, while the dead worker's last heartbeat is still fresh, recovery requeues
    it once it is stale). The claim writes the job's first heartbeat before it commits.
    """
    with _claim_lock, transaction.atomic():
        job = RenderJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in FINISHED:
            return None
        if job.status == JobStatus.RUNNING and _held_by_a_live_worker(job):
            log.warning("render job %s is already being rendered by a live worker; ignoring this delivery", job_id)
            return None
        job.status = JobStatus.RUNNING
        job.started_at = timezone.now()
        job.attempts += 1
        job.phase = "starting"
        job.progress_step = 0
        job.save(update_fields=["status", "started_at", "attempts", "phase", "progress_step"])
        _running_here.add(str(job.pk))
        try:
            heartbeat_write(job_ids=[str(job.pk)])  # at once: recovery must not see a fresh claim as stale
        except Exception:  # the cache is away: the worker's heartbeat thread writes it on its next beat
            log.warning("render job %s: first heartbeat failed", job_id, exc_info=True)
    _send(job, "progress")
    return job


def render_job_release(*, job_id: str) -> None:
    """This process stopped working on the job (finished, failed, retrying or cancelled)."""
    with _claim_lock:
        _running_here.discard(str(job_id))


class ProgressReporter:
    """Writes progress to the job at most every PROGRESS_MIN_INTERVAL_S and answers "cancelled?".

    ``preview(step, total, phase, make)`` is the renderers' live-preview hook (rendering.previews):
    at most one preview every PREVIEW_MIN_INTERVAL_S, and ``make()`` (which draws the picture) is
    called only then, so a renderer may offer one every frame or step for free.
    """

    def __init__(self, job: RenderJob, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.job = job
        self._clock = clock
        self._last_sent = 0.0
        self._last_checked = 0.0
        self._last_preview: float | None = None
        self._cancelled = False

    def __call__(self, step: int, total: int, phase: str) -> None:
        now = self._clock()
        if step < total and now - self._last_sent < PROGRESS_MIN_INTERVAL_S:
            return
        self._write(now, step, total, phase)

    def _write(self, now: float, step: int, total: int, phase: str, preview: Preview | None = None) -> None:
        self._last_sent = self._last_checked = now
        updated = RenderJob.objects.filter(pk=self.job.pk, status=JobStatus.RUNNING).update(
            progress_step=step, progress_total=total, phase=phase
        )
        if not updated:
            self._cancelled = True
            return
        self.job.progress_step, self.job.progress_total, self.job.phase = step, total, phase
        if preview is not None:
            try:
                preview_store(job_id=str(self.job.pk), preview=preview)
            except Exception:  # the frame still carries it; only the reload fallback misses it
                log.warning("render job %s: could not keep its preview", self.job.pk, exc_info=True)
        _send(self.job, "progress", preview=preview)

    def preview(self, step: int, total: int, phase: str, make: Callable[[], np.ndarray | None]) -> bool:
        """Send a progress event carrying a preview of ``make()`` if one is due; True when one was sent."""
        now = self._clock()
        if self._cancelled or (self._last_preview is not None and now - self._last_preview < PREVIEW_MIN_INTERVAL_S):
            return False
        if step < total and now - self._last_sent < PROGRESS_MIN_INTERVAL_S:
            return False  # a preview rides a progress event: within the same ~5 a second
        self._last_preview = now
        try:
            frame = make()
            preview = None if frame is None else preview_encode(frame, step=step)
        except Exception:  # a preview is a nicety: never let it break the render
            log.warning("render job %s: preview failed", self.job.pk, exc_info=True)
            return False
        if preview is None:
            return False
        self._write(now, step, total, phase, preview)
        return True

    def is_cancelled(self) -> bool:
        now = time.monotonic()
        if not self._cancelled and now - self._last_checked >= PROGRESS_MIN_INTERVAL_S:
            self._last_checked = now
            status = RenderJob.objects.filter(pk=self.job.pk).values_list("status", flat=True).first()
            self._cancelled = status != JobStatus.RUNNING
        return self._cancelled


def render_job_mark_succeeded(*, job: RenderJob, clip_path, poster_bytes: bytes, labels: dict) -> bool:
    """Store the clip and poster and finish the job, unless it was cancelled meanwhile."""
    from django.core.files import File
    from django.core.files.base import ContentFile

    with transaction.atomic():
        fresh = RenderJob.objects.select_for_update().get(pk=job.pk)
        if fresh.status != JobStatus.RUNNING:
            return False
        with open(clip_path, "rb") as fh:
            fresh.clip.save(f"{fresh.id}.mp4", File(fh), save=False)
        fresh.poster.save(f"{fresh.id}.jpg", ContentFile(poster_bytes), save=False)
        fresh.labels = labels
        fresh.status = JobStatus.SUCCEEDED
        fresh.phase = "done"
        fresh.progress_step = fresh.progress_total = max(fresh.progress_total, 1)
        fresh.finished_at = timezone.now()
        fresh.error_detail = ""
        fresh.save()
    _refresh(job, fresh)
    _send(job, "done")
    return True


def render_job_mark_retrying(*, job: RenderJob, detail: str) -> None:
    """A transient error: back to queued; the broker redelivers after a backoff."""
    updated = RenderJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
        status=JobStatus.QUEUED, phase="retrying", error_detail=detail
    )
    if updated:
        job.refresh_from_db()
        _send(job, "progress")


def render_job_requeue(*, job: RenderJob, detail: str = "") -> bool:
    """Recovery: put a job whose worker or broker message is gone back in the queue.

    Only if nobody changed it since ``job`` was read (same status and claim), so a
    worker that is in fact alive, or a second sweeper, wins; then a fresh broker
    message. Safe because the actors are idempotent (a finished job ignores it).
    """
    updated = RenderJob.objects.filter(pk=job.pk, status=job.status, started_at=job.started_at).update(
        status=JobStatus.QUEUED, phase="requeued", error_detail=detail
    )
    if not updated:
        return False
    job.refresh_from_db()
    _send(job, "progress")
    _enqueue(job)
    return True


def render_job_mark_failed(*, job_id, detail: str) -> RenderJob | None:
    """The dead-letter path: a user-visible reason, unless the job already finished."""
    updated = RenderJob.objects.filter(pk=job_id, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).update(
        status=JobStatus.FAILED, phase="failed", error_detail=detail, finished_at=timezone.now()
    )
    if not updated:
        return None
    job = RenderJob.objects.get(pk=job_id)
    log.warning("render job %s failed: %s", job_id, detail)
    _send(job, "failed")
    return job


def render_job_note_cancelled(*, job: RenderJob) -> None:
    """The worker stopped because of a cancel; the cancel already sent its event."""
    log.info("render job %s stopped after cancellation", job.pk)


def _refresh(target: RenderJob, source: RenderJob) -> None:
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
