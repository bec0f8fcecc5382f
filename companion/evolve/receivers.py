"""Rendering's job updates -> chat frames and messages.

``rendering.signals.job_updated`` is sent from whichever process changed the
job (the web process for queued/cancelled, a Dramatiq worker for the rest).
For jobs that came from a chat (those with a ``Clip`` row: a message's clip
or a conversation's reel) this broadcasts ``render.*`` frames to the
conversation's group through the channel layer (Redis in production, so it
reaches every web process), and stores the outcome as a chat message (a clip
message on success, a notice on failure) so a client that was offline sees it
after ``history.sync``.

A receiver error must never break the render that sent the signal, so every
handler is wrapped and logged.
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import receiver
from django.urls import reverse

from companion.chat.groups import conversation_broadcast_sync
from companion.chat.models import Conversation, Message
from companion.chat.serializers import message_payload
from companion.chat.services import message_create
from companion.evolve.payloads import job_payload
from companion.evolve.scenes import beat_caption
from companion.evolve.selectors import clip_of
from rendering.models import JobKind, RenderJob
from rendering.previews import Preview
from rendering.signals import job_updated

log = logging.getLogger(__name__)


@receiver(job_updated, dispatch_uid="companion.evolve.job_updated")
def on_job_updated(sender: Any, job: RenderJob, event: str, **kwargs: Any) -> None:
    try:
        job_event_to_chat(job=job, event=event, preview=kwargs.get("preview"))
    except Exception:
        log.exception("evolve: could not relay %s of render job %s to the chat", event, getattr(job, "pk", None))


def job_event_to_chat(*, job: RenderJob, event: str, preview: Preview | None = None) -> None:
    clip = clip_of(job)
    if clip is None:
        return  # not a chat job (admin, benchmark, another app)
    for frame in frames_for(job=job, event=event, conversation_id=clip.conversation_id, preview=preview):
        conversation_broadcast_sync(clip.conversation_id, frame)


def frames_for(
    *, job: RenderJob, event: str, conversation_id: int, preview: Preview | None = None
) -> list[dict[str, Any]]:
    """The frames (and, for done/failed, the stored chat message) for one job event.

    A progress event may carry a live preview (rendering.previews): it travels in the frame as a
    data URL (a few KB), to the conversation's sockets only, which are its owner's.
    """
    base = {"job_id": str(job.pk), "message_id": job_source_message(job)}
    if event == "progress":
        frame = {
            "type": "render.progress",
            **base,
            "step": job.progress_step,
            "total": job.progress_total,
            "phase": job.phase,
            "status": job.status,
            "attempt": job.attempts,
        }
        if preview is not None:
            frame["preview"] = {
                "image": preview.data_url,
                "url": reverse("evolve:clip-preview", args=[job.pk]),
                "width": preview.width,
                "height": preview.height,
                "step": preview.step,
            }
        return [frame]
    payload = job_payload(job)
    if event == "queued":
        return [{"type": "render.queued", **base, "job": payload}]
    if event == "cancelled":
        return [{"type": "render.cancelled", **base, "job": payload}]
    if event == "done":
        message = clip_message_create(job=job, conversation_id=conversation_id, payload=payload)
        return [
            {"type": "render.done", **base, "job": payload, "clip_url": payload["clip_url"],
             "clip_message_id": message.pk if message else None},
            *([_created(message)] if message else []),
        ]
    if event == "failed":
        notice = failure_notice_create(job=job, conversation_id=conversation_id)
        return [
            {"type": "render.failed", **base, "job": payload, "detail": job.error_detail},
            *([_created(notice)] if notice else []),
        ]
    return []


def _created(message) -> dict[str, Any]:
    return {"type": "message.created", "message": message_payload(message)}


def _existing(conversation_id: int, job: RenderJob, kind: str):
    # A redelivered "done" must not post the clip twice.
    return Message.objects.filter(conversation_id=conversation_id, kind=kind, extra__job_id=str(job.pk)).first()


def clip_message_create(*, job: RenderJob, conversation_id: int, payload: dict[str, Any]):
    """The persona's clip message: player URLs, the beat as caption, the AI-generated label."""
    if _existing(conversation_id, job, Message.Kind.CLIP) is not None:
        return None
    conversation = Conversation.objects.get(pk=conversation_id)
    if job.kind == JobKind.REEL:
        caption = f"Reel of {len(job.parts or [])} clips."
    else:
        caption = beat_caption(job.scene_beat)
    return message_create(
        conversation=conversation,
        role=Message.Role.PERSONA,
        kind=Message.Kind.CLIP,
        content=caption,
        status=Message.Status.COMPLETE,
        extra={
            "job_id": str(job.pk),
            "job_kind": job.kind,
            "source_message_id": payload["message_id"],
            "continues": payload["continues"],  # the clip this one continues (a chain plays as one scene)
            "clip_url": payload["clip_url"],
            "poster_url": payload["poster_url"],
            "download_url": payload["download_url"],
            "beat": job.beat,
            "parts": list(job.parts or []),
            "duration_s": (job.beat or {}).get("duration_s"),
            "ai_generated": True,
            "label": payload["label"],
        },
    )


def failure_notice_create(*, job: RenderJob, conversation_id: int):
    if _existing(conversation_id, job, Message.Kind.NOTICE) is not None:
        return None
    what = "the reel" if job.kind == JobKind.REEL else "this scene"
    detail = job.error_detail or "The renderer stopped unexpectedly."
    return message_create(
        conversation=Conversation.objects.get(pk=conversation_id),
        role=Message.Role.PERSONA,
        kind=Message.Kind.NOTICE,
        content=f"I couldn't render {what}: {detail}",
        status=Message.Status.COMPLETE,
        extra={"evolve": True, "job_id": str(job.pk), "failed": True, "message_id": job_source_message(job)},
    )


def job_source_message(job: RenderJob) -> int | None:
    """The message a clip evolves (None for a reel or a job not made in a chat)."""
    clip = clip_of(job)
    return clip.message_id if clip else None
