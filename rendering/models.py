"""Render jobs (one clip or one reel each) and the log of refused requests."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from rendering.beat import SceneBeat


class JobKind(models.TextChoices):
    CLIP = "clip", "Clip"
    REEL = "reel", "Reel"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class RenderJob(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    persona = models.ForeignKey("personas.Persona", on_delete=models.CASCADE, related_name="render_jobs")
    beat = models.JSONField(default=dict, blank=True, help_text="The SceneBeat as rendered (empty for reels).")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="render_jobs"
    )
    # A free-form label for people (admin search, the refusal log), never parsed: a requester that needs
    # to find its jobs again keeps its own link to them (render_job_request(link=...)).
    source = models.CharField(max_length=200, blank=True, db_index=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=8, choices=JobKind.choices, default=JobKind.CLIP)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True)

    progress_step = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    phase = models.CharField(max_length=40, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error_detail = models.TextField(blank=True, help_text="User-visible reason when failed.")

    clip = models.FileField(upload_to="renders/clips/%Y/%m/", blank=True)
    poster = models.FileField(upload_to="renders/posters/%Y/%m/", blank=True)
    labels = models.JSONField(default=dict, blank=True, help_text="AI-content label: C2PA info, self_signed, …")
    parts = models.JSONField(default=list, blank=True, help_text="Reels: clip job ids in order.")
    # A Continue: the clip this one picks up from (its last frame is this clip's first; seed derived from it).
    continues = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="continuations",
        help_text="The clip this clip continues from its last frame.",
    )

    class Meta:
        ordering = ["-queued_at"]
        indexes = [models.Index(fields=["persona", "-queued_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def scene_beat(self) -> SceneBeat:
        return SceneBeat.model_validate(self.beat)

    @property
    def seconds_queued(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.started_at - self.queued_at).total_seconds()

    @property
    def seconds_running(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class SafetyRefusal(models.Model):
    """A render request the safety gate refused (for the admin's review)."""

    persona = models.ForeignKey(
        "personas.Persona", null=True, blank=True, on_delete=models.SET_NULL, related_name="render_refusals"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="render_refusals"
    )
    source = models.CharField(max_length=200, blank=True)
    reason = models.TextField()
    beat = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"refusal {self.pk}: {self.reason[:60]}"
