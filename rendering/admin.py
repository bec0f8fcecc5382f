"""Admin: render jobs (status, progress, timings) and the safety refusal log."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html

from rendering.models import RenderJob, SafetyRefusal


@admin.register(RenderJob)
class RenderJobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "persona", "requested_by", "status", "progress", "phase", "attempts",
                    "queued_at", "seconds_queued", "seconds_running")
    list_filter = ("status", "kind", "phase", "queued_at", "finished_at")
    search_fields = ("id", "source", "idempotency_key", "persona__name", "error_detail")
    readonly_fields = [f.name for f in RenderJob._meta.fields if f.name != "beat"] + ["beat_pretty"]
    exclude = ("beat",)
    date_hierarchy = "queued_at"

    @admin.display(description="progress")
    def progress(self, job: RenderJob) -> str:
        return f"{job.progress_step}/{job.progress_total}" if job.progress_total else "-"

    @admin.display(description="beat")
    def beat_pretty(self, job: RenderJob) -> str:
        return format_html("<pre>{}</pre>", json.dumps(job.beat, indent=2, ensure_ascii=False))

    def has_add_permission(self, request) -> bool:
        return False  # jobs come from the chat or the API, never typed in


@admin.register(SafetyRefusal)
class SafetyRefusalAdmin(admin.ModelAdmin):
    list_display = ("created_at", "persona", "requested_by", "source", "reason")
    list_filter = ("created_at",)
    search_fields = ("reason", "source", "persona__name")
    readonly_fields = ("persona", "requested_by", "source", "reason", "beat", "created_at")

    def has_add_permission(self, request) -> bool:
        return False
