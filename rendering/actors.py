"""Dramatiq actors on the ``render`` queue: thin wrappers around rendering.pipeline.

Message arguments are job ids only.  Redelivery of a finished or cancelled job
does nothing, nor does a delivery of a job a live worker is rendering (this
process, or a fresh heartbeat: ``services.render_job_mark_running``); a job
found "running" that no live worker holds was claimed by a worker that died,
so it restarts.  Only TransientRenderError is retried: ``_run`` decides, from the
message's own retry count and limit, and lets the error reach Dramatiq's
Retries middleware (which redelivers with backoff) only then; anything else,
or a transient error once retries are exhausted, is the dead-letter path: the
job is marked failed with a reason the user can read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import dramatiq
from django.conf import settings
from dramatiq.middleware import CurrentMessage, TimeLimitExceeded

from rendering import pipeline, services
from rendering.errors import RenderCancelled, RenderFailed, TransientRenderError
from rendering.models import RenderJob
from rendering.worker import QUEUE

log = logging.getLogger(__name__)


def _retry_left() -> bool:
    """Will Dramatiq's Retries redeliver this message if it fails? (its own count and limit, read once here)"""
    message = CurrentMessage.get_current_message()
    if message is None:  # called directly, not through a broker: nothing would redeliver it
        return False
    return message.options.get("retries", 0) < message.options.get("max_retries", settings.RENDER_MAX_RETRIES)


def send_job(actor: dramatiq.Actor, job: RenderJob) -> None:
    """Enqueue with the limits read from settings now (so a deployment can change them without code)."""
    actor.send_with_options(
        args=(str(job.id),),
        time_limit=settings.RENDER_TIME_LIMIT_S * 1000,
        min_backoff=settings.RENDER_MIN_BACKOFF_MS,
        max_retries=settings.RENDER_MAX_RETRIES,
    )


def _run(job_id: str, work: Callable[[RenderJob, services.ProgressReporter], None]) -> None:
    job = services.render_job_mark_running(job_id=job_id)
    if job is None:
        log.info("render job %s is finished, gone or being rendered by a live worker; ignoring this delivery", job_id)
        return
    try:
        _render(job_id, job, work)
    finally:
        services.render_job_release(job_id=job_id)


def _render(job_id: str, job: RenderJob, work: Callable[[RenderJob, services.ProgressReporter], None]) -> None:
    try:
        work(job, services.ProgressReporter(job))
    except RenderCancelled:
        services.render_job_note_cancelled(job=job)
    except TransientRenderError as exc:
        if _retry_left():
            log.warning("render job %s attempt %d hit a transient error, will retry: %s", job_id, job.attempts, exc)
            services.render_job_mark_retrying(job=job, detail=f"Retrying after a temporary problem: {exc}")
            raise  # the Retries middleware re-enqueues with backoff
        services.render_job_mark_failed(
            job_id=job_id, detail=f"Rendering failed after {job.attempts} attempts: {exc}"
        )
    except RenderFailed as exc:
        services.render_job_mark_failed(job_id=job_id, detail=str(exc))
    except TimeLimitExceeded:
        services.render_job_mark_failed(
            job_id=job_id, detail=f"Rendering took longer than the {settings.RENDER_TIME_LIMIT_S} s limit."
        )
    except Exception:
        log.exception("render job %s crashed", job_id)  # the exception and its text stay in the log
        services.render_job_mark_failed(
            job_id=job_id, detail=f"The renderer hit an internal error (job {str(job_id)[:8]}); try again later."
        )


_ACTOR_OPTIONS = {
    "queue_name": QUEUE,
    "max_retries": settings.RENDER_MAX_RETRIES,
    "min_backoff": settings.RENDER_MIN_BACKOFF_MS,
    "time_limit": settings.RENDER_TIME_LIMIT_S * 1000,
}


@dramatiq.actor(actor_name="rendering.render_clip", **_ACTOR_OPTIONS)
def render_clip(job_id: str) -> None:
    _run(job_id, pipeline.run_clip)


@dramatiq.actor(actor_name="rendering.render_reel", **_ACTOR_OPTIONS)
def render_reel(job_id: str) -> None:
    _run(job_id, pipeline.run_reel)
