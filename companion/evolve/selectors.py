"""Reads of render jobs for the chat, always scoped to the user who requested them.

A job's place in the chat is its ``Clip`` row (``job.chat_clip``): plain joins, no parsing.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from companion.chat.models import Conversation
from companion.evolve.models import Clip
from rendering.models import JobKind, JobStatus, RenderJob

ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
LIST_LIMIT = 50


def clip_of(job: RenderJob) -> Clip | None:
    """The chat link of ``job`` (None for a job made elsewhere: admin, benchmarks)."""
    try:
        return job.chat_clip
    except Clip.DoesNotExist:
        return None


def render_jobs_of_conversation(
    *, user: Any, conversation: Conversation, active_only: bool = True, limit: int = LIST_LIMIT
) -> QuerySet[RenderJob]:
    """Clip jobs ``user`` requested for messages of ``conversation``, newest first; only
    queued/running ones unless ``active_only`` is False.

    Empty for anyone but the conversation's owner (and for anonymous users).
    """
    if not getattr(user, "is_authenticated", False) or conversation.owner_id != user.pk:
        return RenderJob.objects.none()
    jobs = RenderJob.objects.filter(requested_by=user, kind=JobKind.CLIP, chat_clip__conversation=conversation)
    if active_only:
        jobs = jobs.filter(status__in=ACTIVE)
    return jobs.select_related("persona", "chat_clip").order_by("-queued_at")[:limit]
