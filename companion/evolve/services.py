"""Evolve: turn a persona message into a render job, cancel it, assemble reels.

Thin callers (the websocket handler, the REST views) authorise nothing
themselves: every function here checks that the user owns what they touch and
raises ``EvolveError`` (``code`` goes to the client) otherwise.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from companion.chat.groups import conversation_broadcast_sync
from companion.chat.models import Conversation, Message
from companion.chat.serializers import message_payload
from companion.chat.services import message_create
from companion.core.errors import ApplicationError
from companion.core.ratelimit import RateLimited, rate_check
from companion.evolve import scenes
from companion.evolve.models import Clip
from companion.evolve.selectors import clip_of
from companion.llm.guard import model_call_sync
from rendering.beat import CameraMove, Framing, Lighting, RenderDirection, SceneBeat, TimeOfDay, Weather
from rendering.models import JobKind, JobStatus, RenderJob
from rendering.safety import RenderRefused, SafetyCheckUnavailable, render_request_verdict
from rendering.services import ReelInvalid, reel_request, render_job_cancel, render_job_request

log = logging.getLogger(__name__)

MESSAGE_SOURCE = "chat.message:"  # RenderJob.source labels (see source_label)
REEL_SOURCE = "chat.reel:"
REEL_MAX_CLIPS = 20


class EvolveError(ApplicationError):
    """A refused Evolve operation: not_found, invalid, refused, unavailable, rate_limited."""

    def __init__(self, code: str, detail: str, *, notice: Message | None = None,
                 retry_after_s: int | None = None) -> None:
        super().__init__(code, detail, retry_after_s=retry_after_s)
        self.notice = notice  # the chat message telling the user, when one was posted


class BeatEdit(BaseModel):
    """The fields of a beat the user may edit in the "refine" dialog before rendering.

    Characters, seed and prompt are rebuilt on the server from the persona's
    card and these fields, so an edit cannot drop the persona's identity or
    smuggle text past what the user sees.
    """

    model_config = ConfigDict(extra="ignore")

    setting: str = Field(min_length=1, max_length=1000)
    action: str = Field(min_length=1, max_length=1000)
    camera: CameraMove = CameraMove.STATIC
    framing: Framing = Framing.MEDIUM
    lighting: Lighting = Lighting.DAYLIGHT
    mood: str = Field(default="", max_length=200)
    duration_s: float = Field(default=scenes.DEFAULT_DURATION_S, ge=1.0, le=10.0)
    # Optional: when absent they are read again from the edited setting and action.
    time_of_day: TimeOfDay | None = None
    weather: Weather | None = None


# --- lookups -----------------------------------------------------------------------


def source_label(message: Message) -> str:
    """RenderJob.source for a clip: a label for people (admin search, the refusal log), never parsed;
    the link itself is the job's ``Clip`` row."""
    return f"{MESSAGE_SOURCE}{message.pk}"


def evolvable_message_get(*, user: Any, message_id: Any) -> Message:
    """A persona text message in one of ``user``'s conversations, or EvolveError(not_found)."""
    try:
        message_id = int(message_id)
    except (TypeError, ValueError):
        raise EvolveError("not_found", "No such message.") from None
    message = (
        Message.objects.select_related("conversation__persona", "conversation__owner", "persona")
        .filter(pk=message_id, conversation__owner=user)
        .first()
        if getattr(user, "is_authenticated", False)
        else None
    )
    if message is None:
        raise EvolveError("not_found", "No such message in your conversations.")
    if (
        message.role != Message.Role.PERSONA
        or message.kind != Message.Kind.TEXT
        or message.deleted
        or message.status == Message.Status.STREAMING
        or not message.content.strip()
    ):
        raise EvolveError("invalid", "Only finished persona messages can be turned into a scene.")
    return message


def job_get_for(*, user: Any, job_id: Any) -> RenderJob:
    """A job ``user`` requested, or EvolveError(not_found) (also for malformed ids)."""
    try:
        job_uuid = uuid.UUID(str(job_id))
    except ValueError:
        raise EvolveError("not_found", "No such render job.") from None
    job = None
    if getattr(user, "is_authenticated", False):
        job = (RenderJob.objects.select_related("persona", "chat_clip")
               .filter(pk=job_uuid, requested_by=user).first())
    if job is None:
        raise EvolveError("not_found", "No such render job.")
    return job


# --- beats -------------------------------------------------------------------------


def beat_from_edit(
    *, message: Message, edit: BeatEdit, direction: RenderDirection | None, ctx: scenes.SceneContext | None = None
) -> SceneBeat:
    """A full beat from the user's edited fields (characters, prompt, seed rebuilt server-side)."""
    ctx = ctx or scenes.gather_context(message)
    return scenes.beat_assemble(ctx=ctx, direction=direction, edit=edit)


def preview_context(*, user: Any, message: Message | int) -> scenes.SceneContext:
    """What the "refine" step reads (DB work only; the model is called after, see flow).

    Each preview is a model call, so it counts against RENDER_PREVIEW_RATE_LIMIT first.
    """
    message = evolvable_message_get(user=user, message_id=getattr(message, "pk", message))
    _rate_check("preview", user)
    return scenes.gather_context(message)


def _rate_check(scope: str, user: Any) -> None:
    """One hit of ``user``'s budget for ``scope`` (companion.core.ratelimit); EvolveError(rate_limited) when over."""
    try:
        rate_check(scope, user.pk)
    except RateLimited as exc:
        raise EvolveError(exc.code, exc.detail, retry_after_s=exc.retry_after_s) from exc


def scene_preview(*, user: Any, message: Message | int, direction: RenderDirection | None = None) -> SceneBeat:
    """The "refine" step: the beat Evolve would render, without queuing anything (sync callers)."""
    ctx = preview_context(user=user, message=message)
    return scenes.scene_extract(message=ctx.message, direction=direction)


def _digest(value: Any) -> str:
    data = value.model_dump(mode="json", exclude_none=True) if isinstance(value, BaseModel) else value
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _active_twin(*, user: Any, message: Message, beat: SceneBeat) -> RenderJob | None:
    """A queued/running job of this user for the same message and the same beat (a double-click)."""
    wanted = beat.model_dump(mode="json")
    for job in RenderJob.objects.filter(
        chat_clip__message=message, requested_by=user, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    ):
        if job.beat == wanted:
            return job
    return None


# --- requests ------------------------------------------------------------------------


@dataclass
class EvolvePlan:
    """An Evolve request read and checked, waiting for the model (when ``needs_model``)."""

    message: Message
    ctx: scenes.SceneContext
    direction: RenderDirection | None
    edit: BeatEdit | None
    source: str
    key: str
    existing: RenderJob | None = None  # the same request was made before: answer with its job

    @property
    def needs_model(self) -> bool:
        return self.existing is None and self.edit is None

    @property
    def seed(self) -> int:
        return scenes.beat_seed(self.message.pk, self.direction)


def evolve_plan(
    *,
    user: Any,
    message: Message | int,
    direction: RenderDirection | None = None,
    client_id: str = "",
    beat_override: BeatEdit | dict | None = None,
) -> EvolvePlan:
    """Step 1 of a request (DB only): authorise, find a repeat, count the rate, gather the context.

    The rate is counted here, before any model work, so a user over the limit costs nothing;
    a repeat of an earlier request (same client id and direction) is free.
    """
    message = evolvable_message_get(user=user, message_id=getattr(message, "pk", message))
    edit = None
    if beat_override is not None:
        edit = beat_override if isinstance(beat_override, BeatEdit) else BeatEdit.model_validate(beat_override)
    key = f"evolve:{message.pk}:{_digest(direction or {})}:{_digest(edit or {})}:{client_id[:64]}"[:200]
    plan = EvolvePlan(message=message, ctx=scenes.gather_context(message), direction=direction, edit=edit,
                      source=source_label(message), key=key)
    plan.existing = RenderJob.objects.filter(idempotency_key=key).first()
    if plan.existing is None:
        _rate_check("render", user)
    return plan


def evolve_beat(*, plan: EvolvePlan, model_scene: scenes.ExtractedScene | None = None) -> SceneBeat:
    """Step 2b (pure: no DB, runs on the event loop): the beat to render from the plan and the model's reading."""
    if plan.edit is not None:
        return beat_from_edit(message=plan.message, edit=plan.edit, direction=plan.direction, ctx=plan.ctx)
    return scenes.beat_assemble(ctx=plan.ctx, model_scene=model_scene, direction=plan.direction)


def evolve_commit(
    *,
    user: Any,
    plan: EvolvePlan,
    model_scene: scenes.ExtractedScene | None = None,
    beat: SceneBeat | None = None,
    model_verdict: Any = None,
) -> tuple[RenderJob, bool]:
    """Step 3 of a request (DB only, after the model): queue the beat. Returns (job, created).

    ``model_verdict`` is the guard model's verdict on this beat (rendering.safety.render_request_verdict),
    asked before, outside any transaction; without one the worker asks before rendering. A refusal by the
    safety gate posts a notice into the chat and raises EvolveError("refused") carrying that notice; a
    guard model that could not answer raises EvolveError("unavailable") (no notice: nothing was decided).
    """

    if plan.existing is not None:
        return plan.existing, False
    beat = beat or evolve_beat(plan=plan, model_scene=model_scene)
    twin = _active_twin(user=user, message=plan.message, beat=beat)
    if twin is not None:
        return twin, False  # a double-click while the first is still rendering
    return clip_render_request(message=plan.message, beat=beat, user=user, source=plan.source, key=plan.key,
                               model_verdict=model_verdict)


def clip_render_request(
    *, message: Message, beat: SceneBeat, user: Any, source: str, key: str, model_verdict: Any,
    continues: RenderJob | None = None,
) -> tuple[RenderJob, bool]:
    """Queue the clip of ``message`` (its ``Clip`` row written with the job) through the safety gate:
    a refusal posts a notice in the conversation and is an EvolveError, as is a gate that cannot run."""
    try:
        return render_job_request(
            persona=message.persona or message.conversation.persona,  # a group scene: the speaker's job
            beat=beat,
            requested_by=user,
            source=source,
            idempotency_key=key,
            model_verdict=model_verdict,
            continues=continues,
            link=lambda job: Clip.objects.create(job=job, conversation_id=message.conversation_id, message=message),
        )
    except SafetyCheckUnavailable as unavailable:
        raise EvolveError("unavailable", unavailable.reason) from unavailable
    except RenderRefused as refused:
        notice = notice_post(conversation=message.conversation, text=refused.reason,
                             extra={"refused": True, "message_id": message.pk})
        raise EvolveError("refused", refused.reason, notice=notice) from refused


def evolve_request(
    *,
    user: Any,
    message: Message | int,
    direction: RenderDirection | None = None,
    client_id: str = "",
    beat_override: BeatEdit | dict | None = None,
) -> tuple[RenderJob, bool]:
    """Queue a clip of ``message`` (Evolve, or Remix with ``direction``), for sync callers.

    Plan, model, commit (see evolve_plan / evolve_commit): so never inside a
    transaction or on the shared DB thread. Idempotent: the same message +
    direction + edit + client_id returns the first job, and so does an
    identical request while that job is still running.
    """

    plan = evolve_plan(user=user, message=message, direction=direction, client_id=client_id,
                       beat_override=beat_override)
    if plan.existing is not None:
        return plan.existing, False
    model_scene = (
        model_call_sync("scene extraction", scenes.scene_model_ask, plan.ctx, plan.seed)
        if plan.needs_model else None
    )
    beat = evolve_beat(plan=plan, model_scene=model_scene)
    persona = plan.message.persona or plan.message.conversation.persona
    verdict = model_call_sync("safety model", render_request_verdict, persona=persona, beat=beat)
    return evolve_commit(user=user, plan=plan, beat=beat, model_verdict=verdict)


def evolve_cancel(*, user: Any, job_id: Any) -> RenderJob:
    """Cancel a queued or running job of this user (a finished job is returned unchanged)."""
    return render_job_cancel(job=job_get_for(user=user, job_id=job_id))


def reel_create(
    *, user: Any, conversation: Conversation, job_ids: Sequence[Any], client_id: str = ""
) -> tuple[RenderJob, bool]:
    """Assemble finished clips of ``conversation`` into one MP4, in the given order."""

    if conversation.owner_id != getattr(user, "pk", None):
        raise EvolveError("not_found", "No such conversation.")
    if not job_ids:
        raise EvolveError("invalid", "Pick at least one clip for the reel.")
    if len(job_ids) > REEL_MAX_CLIPS:
        raise EvolveError("invalid", f"A reel can hold at most {REEL_MAX_CLIPS} clips.")
    if len({str(j).lower() for j in job_ids}) != len(job_ids):
        raise EvolveError("invalid", "Each clip can appear in a reel only once.")
    jobs = []
    for job_id in job_ids:
        job = job_get_for(user=user, job_id=job_id)
        clip = clip_of(job)
        if job.kind != JobKind.CLIP or clip is None or clip.conversation_id != conversation.pk:
            raise EvolveError("not_found", "A chosen clip is not part of this conversation.")
        jobs.append(job)
    key = f"reel:{conversation.pk}:{_digest([str(j.pk) for j in jobs])}:{client_id[:64]}"
    if not RenderJob.objects.filter(idempotency_key=key).exists():  # a repeat of the same request is free
        _rate_check("reel", user)
    try:
        return reel_request(
            jobs=jobs, requested_by=user, source=f"{REEL_SOURCE}{conversation.pk}", idempotency_key=key,
            link=lambda job: Clip.objects.create(job=job, conversation=conversation),
        )
    except ReelInvalid as exc:
        raise EvolveError("invalid", str(exc)) from exc


# --- chat messages -------------------------------------------------------------------


def notice_post(*, conversation: Conversation, text: str, extra: dict | None = None) -> Message:
    """A persona-side notice in the chat, broadcast to every open socket."""
    notice = message_create(
        conversation=conversation,
        role=Message.Role.PERSONA,
        kind=Message.Kind.NOTICE,
        content=text,
        status=Message.Status.COMPLETE,
        extra={"evolve": True, **(extra or {})},
    )
    broadcast_message(notice)
    return notice


def broadcast_message(message: Message) -> None:
    try:
        frame = {"type": "message.created", "message": message_payload(message)}
        conversation_broadcast_sync(message.conversation_id, frame)
    except Exception:  # the row is stored: a reconnecting client gets it through history.sync
        log.exception("could not broadcast message %s", message.pk)
