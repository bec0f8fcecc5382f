"""Evolve's part of the privacy export and account deletion: the render jobs (clips) a user asked for.

Registered in EvolveConfig.ready. Deleted first (delete_order 10): a queued or
running job would write its files after we deleted them, so it is cancelled
through rendering's own cancel (the worker stops between steps, the live
preview goes, open sockets are told) before its row and files go.
"""

from __future__ import annotations

from typing import Any

from companion.accounts.privacy import FileRef, PrivacyPart, file_refs, privacy_part_register
from companion.evolve.payloads import clip_urls
from rendering.models import JobStatus, RenderJob
from rendering.services import render_job_cancel


def _clips_export(user: Any) -> list[dict[str, Any]]:
    return [
        {"id": str(j.pk), "kind": j.kind, "status": j.status, "persona": j.persona.name, "beat": j.beat,
         "queued_at": j.queued_at, "finished_at": j.finished_at, "error_detail": j.error_detail,
         "labels": j.labels, **clip_urls(j)}
        for j in RenderJob.objects.filter(requested_by=user).select_related("persona").order_by("queued_at")
    ]


def _clips_delete(user: Any, files: list[FileRef]) -> int:
    jobs = list(RenderJob.objects.filter(requested_by=user))
    for job in jobs:
        files += file_refs(job.clip, job.poster)
        if job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
            render_job_cancel(job=job)
    return RenderJob.objects.filter(pk__in=[j.pk for j in jobs]).delete()[0]


def evolve_privacy_register() -> None:
    privacy_part_register(PrivacyPart(
        "clips", "the clips you asked for, with the URLs of their files", _clips_export, _clips_delete,
        delete_order=10,
    ))
