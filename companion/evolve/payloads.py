"""Render jobs as the JSON that websocket frames, clip messages and the REST API carry."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from companion.evolve.selectors import clip_of
from rendering.models import JobStatus, RenderJob


def clip_urls(job: RenderJob) -> dict[str, str | None]:
    """Owner-only URLs (served by companion.evolve.views); None until the clip exists."""
    ready = job.status == JobStatus.SUCCEEDED and bool(job.clip)
    return {
        "clip_url": reverse("evolve:clip-video", args=[job.pk]) if ready else None,
        "poster_url": reverse("evolve:clip-poster", args=[job.pk]) if ready and job.poster else None,
        "download_url": reverse("evolve:clip-download", args=[job.pk]) if ready else None,
    }


def public_label(job: RenderJob) -> dict[str, Any]:
    """What the UI shows about the AI-content label (never key material or paths)."""
    labels = job.labels or {}
    return {
        "ai_generated": True,
        "c2pa": bool(labels.get("c2pa")),
        "self_signed": bool(labels.get("self_signed", True)),  # unknown signer: say so rather than overclaim
        "digital_source_type": str(labels.get("digital_source_type", ""))[:200],
    }


def job_payload(job: RenderJob) -> dict[str, Any]:
    clip = clip_of(job)
    return {
        "id": str(job.pk),
        "kind": job.kind,
        "status": job.status,
        "message_id": clip.message_id if clip else None,
        "conversation_id": clip.conversation_id if clip else None,
        "progress_step": job.progress_step,
        "progress_total": job.progress_total,
        "phase": job.phase,
        "attempts": job.attempts,
        "beat": job.beat,
        "parts": list(job.parts or []),
        "error_detail": job.error_detail,
        "queued_at": job.queued_at.isoformat() if job.queued_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "label": public_label(job),
        **clip_urls(job),
    }
