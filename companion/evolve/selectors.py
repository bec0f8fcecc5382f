"""Reads of render jobs for the chat, always scoped to the user who requested them."""

from __future__ import annotations

from typing import Any

from django.db.models import CharField, QuerySet, Value
from django.db.models.functions import Cast, Concat

from companion.chat.models import Conversation, Message
from companion.evolve.services import MESSAGE_SOURCE
from rendering.models import JobKind, JobStatus, RenderJob

ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
LIST_LIMIT = 50


def render_jobs_of_conversation(
    *, user: Any, conversation: Conversation, active_only: bool = True, limit: int = LIST_LIMIT
) -> QuerySet[RenderJob]:
    """Clip jobs ``user`` requested for messages of ``conversation`` (their ``source`` is
    "chat.message:<id>"), newest first; only queued/running ones unless ``active_only`` is False.

    Empty for anyone but the conversation's owner (and for anonymous users).
    """
    if not getattr(user, "is_authenticated", False) or conversation.owner_id != user.pk:
        return RenderJob.objects.none()
    sources = (
        Message.objects.filter(conversation=conversation)
        .annotate(source=Concat(Value(MESSAGE_SOURCE), Cast("pk", CharField()), output_field=CharField()))
        .values("source")
    )
    jobs = RenderJob.objects.filter(requested_by=user, kind=JobKind.CLIP, source__in=sources)
    if active_only:
        jobs = jobs.filter(status__in=ACTIVE)
    return jobs.select_related("persona").order_by("-queued_at")[:limit]
