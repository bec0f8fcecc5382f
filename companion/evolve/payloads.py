"""Render jobs as the JSON that websocket frames, clip messages and the REST API carry."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from companion.evolve.selectors import clip_of
from rendering.models import JobKind, JobStatus, RenderJob


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


NULLABLE_INT = {"type": "integer", "nullable": True}
NULLABLE_URL = {"type": "string", "nullable": True, "description": "Owner-only; null until the clip exists."}


class JobLabelSerializer(serializers.Serializer):
    ai_generated = serializers.BooleanField()
    c2pa = serializers.BooleanField(help_text="Signed with a C2PA manifest.")
    self_signed = serializers.BooleanField(help_text="Signed by this server's own certificate (or unknown).")
    digital_source_type = serializers.CharField()


class JobSerializer(serializers.Serializer):
    """A render job as websocket frames, clip messages and the REST API carry it (one shape)."""

    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=JobKind.choices)
    status = serializers.ChoiceField(choices=JobStatus.choices)
    message_id = serializers.SerializerMethodField(help_text="The message the clip evolves (null for a reel).")
    conversation_id = serializers.SerializerMethodField()
    progress_step = serializers.IntegerField()
    progress_total = serializers.IntegerField()
    phase = serializers.CharField()
    attempts = serializers.IntegerField()
    beat = serializers.JSONField(help_text="The SceneBeat as rendered (empty for a reel).")
    parts = serializers.ListField(child=serializers.CharField(), help_text="A reel's clip job ids, in order.")
    continues = serializers.UUIDField(source="continues_id", allow_null=True,
                                      help_text="The clip this clip continues from its last frame (null if none).")
    error_detail = serializers.CharField()
    queued_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    label = serializers.SerializerMethodField()
    clip_url = serializers.SerializerMethodField()
    poster_url = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    @extend_schema_field(NULLABLE_INT)
    def get_message_id(self, job: RenderJob) -> int | None:
        clip = clip_of(job)
        return clip.message_id if clip else None

    @extend_schema_field(NULLABLE_INT)
    def get_conversation_id(self, job: RenderJob) -> int | None:
        clip = clip_of(job)
        return clip.conversation_id if clip else None

    @extend_schema_field(JobLabelSerializer)
    def get_label(self, job: RenderJob) -> dict[str, Any]:
        return public_label(job)

    @extend_schema_field(NULLABLE_URL)
    def get_clip_url(self, job: RenderJob) -> str | None:
        return clip_urls(job)["clip_url"]

    @extend_schema_field(NULLABLE_URL)
    def get_poster_url(self, job: RenderJob) -> str | None:
        return clip_urls(job)["poster_url"]

    @extend_schema_field(NULLABLE_URL)
    def get_download_url(self, job: RenderJob) -> str | None:
        return clip_urls(job)["download_url"]


def job_payload(job: RenderJob) -> dict[str, Any]:
    """``JobSerializer`` as a plain dict (it travels through the channel layer too)."""
    return dict(JobSerializer(job).data)
