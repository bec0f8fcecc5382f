"""Websocket handlers for the ``render.*`` client frames (README "Websocket protocol").

The chat consumer calls ``HANDLERS[frame["type"]](consumer, raw_frame)``; it
provides ``consumer.user``, ``consumer.conversation``, ``send_frame`` and
``send_error``. Thin: validate, read on the DB thread, call the model on the event loop, write on the DB thread, reply.

client -> server
- ``render.request`` {message_id, direction?: {camera?, framing?, lighting?, duration_s?, notes?},
  client_id?, beat?: {setting, action, camera, framing, lighting, mood, duration_s}}
  Evolve (Remix when ``direction`` is given; ``beat`` renders the user's edit from the refine dialog).
  The new job is announced to every socket by ``render.queued`` (see receivers); a repeated request
  (double-click) gets the existing job back in a ``render.queued`` frame with ``duplicate: true``.
- ``render.preview`` {message_id, direction?} -> ``render.beat`` {message_id, beat, direction} to this socket.
- ``render.cancel`` {job_id} -> ``render.cancelled`` {job_id, message_id, job} to every socket.
- ``render.continue`` {job_id, text?, client_id?}: the next beat of a finished clip, rendered from its
  last frame (companion.evolve.continues): ``text`` is what happens next, or, when empty, the persona's
  next message after the clip's. Announced like any new job (``render.queued``; its ``job.continues`` is
  the parent clip's id); a repeat gets ``render.queued`` with ``duplicate: true``.

Errors: ``error`` {code: invalid_frame | not_found | invalid | refused | unavailable | rate_limited, detail}.
A refusal by the safety gate also posts a notice message into the chat; ``unavailable``: the guard model
could not answer (nothing was decided or queued; try again).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from companion.core.errors import validation_detail
from companion.evolve import continues, scenes, services
from companion.evolve.payloads import job_payload
from companion.evolve.selectors import clip_of
from companion.llm.guard import db_thread
from rendering.beat import RenderDirection
from rendering.renderers import renderer_class
from rendering.safety import render_request_verdict

log = logging.getLogger(__name__)


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RenderRequestFrame(_Frame):
    type: Literal["render.request"]
    message_id: Annotated[int, Field(ge=1)]
    direction: RenderDirection | None = None
    client_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = ""
    beat: services.BeatEdit | None = None


class RenderPreviewFrame(_Frame):
    type: Literal["render.preview"]
    message_id: Annotated[int, Field(ge=1)]
    direction: RenderDirection | None = None


class RenderCancelFrame(_Frame):
    type: Literal["render.cancel"]
    job_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class RenderContinueFrame(_Frame):
    type: Literal["render.continue"]
    job_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    text: Annotated[str, StringConstraints(strip_whitespace=True, max_length=continues.MAX_DIRECTION)] = ""
    client_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = ""


def _in_this_conversation(consumer: Any, message_id: int) -> bool:
    conversation = getattr(consumer, "conversation", None)
    return conversation is not None and conversation.messages.filter(pk=message_id).exists()


# --- sync parts (DB thread: reads and short writes only, never the model) -----------------


def _plan(consumer: Any, frame: RenderRequestFrame) -> services.EvolvePlan:
    if not _in_this_conversation(consumer, frame.message_id):
        raise services.EvolveError("not_found", "No such message in this conversation.")
    return services.evolve_plan(user=consumer.user, message=frame.message_id, direction=frame.direction,
                                client_id=frame.client_id, beat_override=frame.beat)


def _commit(consumer: Any, plan: services.EvolvePlan, beat: Any, verdict: Any) -> tuple[dict[str, Any], bool]:
    job, created = services.evolve_commit(user=consumer.user, plan=plan, beat=beat, model_verdict=verdict)
    return job_payload(job), created


def _preview_context(consumer: Any, frame: RenderPreviewFrame) -> scenes.SceneContext:
    if not _in_this_conversation(consumer, frame.message_id):
        raise services.EvolveError("not_found", "No such message in this conversation.")
    return services.preview_context(user=consumer.user, message=frame.message_id)


def _cancel(consumer: Any, frame: RenderCancelFrame) -> tuple[dict[str, Any], bool]:
    job = services.job_get_for(user=consumer.user, job_id=frame.job_id)
    clip = clip_of(job)
    if clip is None or clip.conversation_id != getattr(consumer.conversation, "pk", None):
        raise services.EvolveError("not_found", "No such render job in this conversation.")
    was_running = not job.is_finished
    job = services.evolve_cancel(user=consumer.user, job_id=job.pk)
    return job_payload(job), was_running and job.status == "cancelled"


def _continue_plan(consumer: Any, frame: RenderContinueFrame) -> continues.ContinuePlan:
    clip = clip_of(services.job_get_for(user=consumer.user, job_id=frame.job_id))
    if clip is None or clip.conversation_id != getattr(consumer.conversation, "pk", None):
        raise services.EvolveError("not_found", "No such clip in this conversation.")  # before the rate counts
    return continues.continue_plan(user=consumer.user, job_id=frame.job_id, text=frame.text,
                                   client_id=frame.client_id)


def _continue_commit(consumer: Any, plan: continues.ContinuePlan, beat: Any, verdict: Any
                     ) -> tuple[dict[str, Any], bool]:
    job, created = continues.continue_commit(user=consumer.user, plan=plan, beat=beat, model_verdict=verdict)
    return job_payload(job), created


# --- handlers --------------------------------------------------------------------------


async def _run(consumer: Any, raw: dict[str, Any], model: type[_Frame], work: Callable[[_Frame], Awaitable[None]]):
    try:
        frame = model.model_validate(raw)
    except ValidationError as exc:
        await consumer.send_error("invalid_frame", validation_detail(exc))
        return
    try:
        await work(frame)
    except services.EvolveError as exc:
        await consumer.send_error(exc.code, exc.detail)


async def handle_render_request(consumer: Any, raw: dict[str, Any]) -> None:
    async def work(frame: RenderRequestFrame) -> None:
        plan = await db_thread(_plan)(consumer, frame)
        beat = verdict = None
        if plan.existing is None:
            # The models read the beat here, on the event loop: the shared DB thread stays free for everyone.
            model_scene = await scenes.scene_model_ask(plan.ctx, plan.seed) if plan.needs_model else None
            beat = services.evolve_beat(plan=plan, model_scene=model_scene)
            verdict = await render_request_verdict(persona=plan.message.persona or plan.message.conversation.persona,
                                                   beat=beat)
        payload, created = await db_thread(_commit)(consumer, plan, beat, verdict)
        await _answer_repeat(consumer, payload, created, frame.client_id)

    await _run(consumer, raw, RenderRequestFrame, work)


async def _answer_repeat(consumer: Any, payload: dict[str, Any], created: bool, client_id: str) -> None:
    """New jobs are announced to every socket by the receiver; a repeat only needs an answer here."""
    if not created:
        await consumer.send_frame(
            {"type": "render.queued", "job_id": payload["id"], "message_id": payload["message_id"],
             "job": payload, "client_id": client_id, "duplicate": True}
        )


async def handle_render_preview(consumer: Any, raw: dict[str, Any]) -> None:
    async def work(frame: RenderPreviewFrame) -> None:
        ctx = await db_thread(_preview_context)(consumer, frame)
        seed = scenes.beat_seed(ctx.message.pk, frame.direction)
        model_scene = await scenes.scene_model_ask(ctx, seed)
        beat = scenes.beat_assemble(ctx=ctx, model_scene=model_scene, direction=frame.direction)
        note = scenes.cast_note(beat, multi_lora=renderer_class().supports_multi_lora)  # group scenes
        beat = beat.model_dump(mode="json")
        direction = frame.direction.model_dump(mode="json", exclude_none=True) if frame.direction else None
        await consumer.send_frame(
            {"type": "render.beat", "message_id": frame.message_id, "beat": beat, "direction": direction,
             "cast_note": note}
        )

    await _run(consumer, raw, RenderPreviewFrame, work)


async def handle_render_cancel(consumer: Any, raw: dict[str, Any]) -> None:
    async def work(frame: RenderCancelFrame) -> None:
        payload, cancelled = await db_thread(_cancel)(consumer, frame)
        if not cancelled:
            await consumer.send_error("invalid", f"This render has already {payload['status']}.")

    await _run(consumer, raw, RenderCancelFrame, work)


async def handle_render_continue(consumer: Any, raw: dict[str, Any]) -> None:
    async def work(frame: RenderContinueFrame) -> None:
        plan = await db_thread(_continue_plan)(consumer, frame)
        beat = verdict = None
        if plan.existing is None:
            model_scene = await scenes.scene_model_ask(plan.ctx, plan.seed) if plan.needs_model else None
            beat = continues.continue_beat(plan=plan, model_scene=model_scene)
            verdict = await render_request_verdict(persona=plan.parent.persona, beat=beat)
        payload, created = await db_thread(_continue_commit)(consumer, plan, beat, verdict)
        await _answer_repeat(consumer, payload, created, frame.client_id)

    await _run(consumer, raw, RenderContinueFrame, work)


HANDLERS: dict[str, Callable[[Any, dict[str, Any]], Awaitable[None]]] = {
    "render.request": handle_render_request,
    "render.preview": handle_render_preview,
    "render.cancel": handle_render_cancel,
    "render.continue": handle_render_continue,
}

