"""Reads of render jobs for the chat, always scoped to the user who requested them.

A job's place in the chat is its ``Clip`` row (``job.chat_clip``): plain joins, no parsing.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from companion.chat.models import Conversation
from companion.evolve.models import Clip
from rendering.beat import CameraMove, Framing, Lighting, SceneBeat
from rendering.models import JobKind, JobStatus, RenderJob

ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
DURATION_STEP_S = 0.5  # the refine dialog's spinner step; the contract itself accepts any float in bounds
LIST_LIMIT = 50


def _bound(field: str, name: str) -> Any:
    """A constraint (ge, le, max_length) of a SceneBeat field, as pydantic holds it."""
    return next(getattr(m, name) for m in SceneBeat.model_fields[field].metadata if hasattr(m, name))


def scene_vocabulary() -> dict[str, Any]:
    """What the refine dialog offers, read from the SceneBeat contract (rendering.beat), so the page
    never keeps its own copy: the choices in the enums' order and the bounds the contract validates."""
    duration = SceneBeat.model_fields["duration_s"]
    return {
        "camera": [c.value for c in CameraMove],
        "framing": [f.value for f in Framing],
        "lighting": [x.value for x in Lighting],
        "duration_s": {"min": _bound("duration_s", "ge"), "max": _bound("duration_s", "le"),
                       "step": DURATION_STEP_S, "default": duration.default},
        "max_length": {field: _bound(field, "max_length") for field in ("setting", "action", "mood")},
    }


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
