"""Continue: the next beat of a finished clip, rendered from the clip's last frame.

The next beat is what the user types ("she picks up the lantern"), or else the
persona's next message after the clip's message, read as a scene like Evolve
reads one. Either way the shot carries on: setting, characters, camera, framing,
lighting, weather and time of day come from the parent clip's beat (only the
action, the spoken line, the mood and the props are new), the seed is derived
from the parent's (``rendering.continuity.child_seed``), and the job records its
parent (``RenderJob.continues``: rendering needs it to find the last frame, so it
lives there, not on the chat's Clip). Same persona, so the same video LoRA; same
rate limit ("render") and the same safety gate as any render, at the request and
again in the worker.

Three phases like Evolve (``continue_plan`` DB, the models on the event loop or a
thread of their own, ``continue_commit`` DB), so no model call runs in a
transaction or on the shared DB thread.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from companion.chat.models import Message
from companion.core.ratelimit import RateLimited, rate_check
from companion.evolve import scenes
from companion.evolve.selectors import clip_of
from companion.evolve.services import EvolveError, clip_render_request, job_get_for
from companion.llm.guard import model_call_sync
from rendering.beat import SceneBeat
from rendering.continuity import child_seed
from rendering.models import JobKind, JobStatus, RenderJob
from rendering.safety import render_request_verdict

CONTINUE_SOURCE = "chat.continue:"  # RenderJob.source label, for people
MAX_DIRECTION = 500


@dataclass
class ContinuePlan:
    """A Continue read and checked (DB only), waiting for the models."""

    parent: RenderJob
    message: Message  # the message the new clip belongs to (the next persona message, or the parent's)
    text: str  # what the user typed ("" when the next message is the beat)
    ctx: scenes.SceneContext | None  # the next message's context, when it is the beat
    key: str
    existing: RenderJob | None = None

    @property
    def needs_model(self) -> bool:
        return self.existing is None and self.ctx is not None

    @property
    def seed(self) -> int:
        return child_seed(self.parent.scene_beat.seed, self.text or f"message:{self.message.pk}")


def _next_persona_message(message: Message) -> Message | None:
    return (
        message.conversation.messages.filter(
            seq__gt=message.seq, role=Message.Role.PERSONA, kind=Message.Kind.TEXT, deleted=False, is_active=True
        )
        .exclude(status=Message.Status.STREAMING)
        .order_by("seq")
        .first()
    )


def continue_plan(*, user: Any, job_id: Any, text: str = "", client_id: str = "") -> ContinuePlan:
    """Step 1 (DB only): authorise, pick the beat's source, find a repeat, count the rate."""
    parent = job_get_for(user=user, job_id=job_id)  # someone else's clip: not_found
    clip = clip_of(parent)
    if parent.kind != JobKind.CLIP or clip is None or clip.message_id is None:
        raise EvolveError("not_found", "No such clip in your conversations.")
    if parent.status != JobStatus.SUCCEEDED or not parent.clip:
        raise EvolveError("invalid", "Only a finished clip can be continued.")
    try:
        parent.scene_beat  # noqa: B018 (a beat stored some other way may not be a whole one)
    except ValidationError:
        raise EvolveError("invalid", "This clip has no scene to continue.") from None
    text = " ".join((text or "").split())[:MAX_DIRECTION]
    message, ctx = clip.message, None
    if not text:
        message = _next_persona_message(clip.message)
        if message is None or not message.content.strip():
            raise EvolveError("invalid", "Type what happens next: there is no later message to continue with.")
        ctx = scenes.gather_context(message)
    what = hashlib.sha256((text or f"message:{message.pk}").encode()).hexdigest()[:16]
    key = f"continue:{parent.pk}:{what}:{client_id[:64]}"[:200]
    plan = ContinuePlan(parent=parent, message=message, text=text, ctx=ctx, key=key,
                        existing=RenderJob.objects.filter(idempotency_key=key).first())
    if plan.existing is None:
        try:
            rate_check("render", user.pk)  # the same budget as any new render
        except RateLimited as exc:
            raise EvolveError(exc.code, exc.detail, retry_after_s=exc.retry_after_s) from exc
    return plan


def continue_beat(*, plan: ContinuePlan, model_scene: scenes.ExtractedScene | None = None) -> SceneBeat:
    """Step 2 (pure): the parent's shot, with the next beat's action, line, mood and props, and a child seed."""
    parent = plan.parent.scene_beat
    if plan.ctx is not None:
        fresh = scenes.beat_assemble(ctx=plan.ctx, model_scene=model_scene)
        update: dict[str, Any] = {"action": fresh.action, "speech": fresh.speech, "mood": fresh.mood,
                                  "props": list(dict.fromkeys([*parent.props, *fresh.props]))[:12]}
    else:
        update = {"action": plan.text, "speech": ""}
    beat = parent.model_copy(update={**update, "notes": "", "seed": plan.seed}, deep=True)
    beat = SceneBeat.model_validate(beat.model_dump(mode="json"))  # the contract's limits, checked
    return beat.model_copy(update={"prompt": scenes.compose_prompt(beat, list(plan.parent.persona.style_tags or []))})


def continue_commit(*, user: Any, plan: ContinuePlan, beat: SceneBeat, model_verdict: Any = None
                    ) -> tuple[RenderJob, bool]:
    """Step 3 (DB only): queue the continued clip through the safety gate; (job, created).

    A refusal posts a notice into the chat and raises EvolveError("refused"), as Evolve does.
    """

    if plan.existing is not None:
        return plan.existing, False
    return clip_render_request(message=plan.message, beat=beat, user=user,
                               source=f"{CONTINUE_SOURCE}{plan.parent.pk}", key=plan.key,
                               model_verdict=model_verdict, continues=plan.parent)


def continue_request(*, user: Any, job_id: Any, text: str = "", client_id: str = "") -> tuple[RenderJob, bool]:
    """Continue a clip, for sync callers (REST): plan, models in threads of their own, commit."""
    plan = continue_plan(user=user, job_id=job_id, text=text, client_id=client_id)
    if plan.existing is not None:
        return plan.existing, False
    model_scene = (model_call_sync("scene extraction", scenes.scene_model_ask, plan.ctx, plan.seed)
                   if plan.needs_model else None)
    beat = continue_beat(plan=plan, model_scene=model_scene)
    verdict = model_call_sync("safety model", render_request_verdict, persona=plan.parent.persona, beat=beat)
    return continue_commit(user=user, plan=plan, beat=beat, model_verdict=verdict)
