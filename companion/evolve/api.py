"""REST endpoints for Evolve (same services as the websocket handlers; owner-scoped).

- POST /api/evolve/jobs/            {message_id, direction?, beat?, client_id?} -> job (201 new, 200 existing)
- GET  /api/evolve/jobs/?conversation=<id>[&active=1|0] -> {jobs: [...]} the user's clip jobs of that
  conversation, newest first (active=1, the default: only queued/running; 404 for someone else's)
- POST /api/evolve/preview/         {message_id, direction?} -> {message_id, beat}
- GET  /api/evolve/jobs/<id>/       -> job
- POST /api/evolve/jobs/<id>/cancel/ -> job
- POST /api/evolve/reels/           {conversation_id, job_ids: [...], client_id?} -> reel job (201/200)
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from companion.chat.selectors import conversation_get_for
from companion.core.errors import HTTP_STATUS
from companion.evolve import selectors, services
from companion.evolve.payloads import job_payload
from rendering.beat import RenderDirection


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class EvolveBody(_Body):
    message_id: int = Field(ge=1)
    direction: RenderDirection | None = None
    beat: services.BeatEdit | None = None
    client_id: str = Field(default="", max_length=64)


class PreviewBody(_Body):
    message_id: int = Field(ge=1)
    direction: RenderDirection | None = None


class ReelBody(_Body):
    conversation_id: int = Field(ge=1)
    job_ids: list[str] = Field(min_length=1, max_length=services.REEL_MAX_CLIPS)
    client_id: str = Field(default="", max_length=64)


def _error(code: str, detail: str) -> Response:
    return Response({"code": code, "detail": detail}, status=HTTP_STATUS.get(code, status.HTTP_400_BAD_REQUEST))


class EvolveAPIView(APIView):
    """Evolve's REST views: refusals (EvolveError) become ``{code, detail}`` in companion.api.exceptions."""


def _parse(model: type[_Body], data: Any) -> _Body | Response:
    try:
        return model.model_validate(data if isinstance(data, dict) else {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _error("invalid", problems[:500])


class JobCreateView(EvolveAPIView):
    @extend_schema(
        operation_id="evolve_jobs_list",
        parameters=[
            OpenApiParameter("conversation", int, required=True, description="The conversation's id."),
            OpenApiParameter("active", bool, description="Only queued/running jobs (default 1)."),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> Response:
        try:
            conversation_id = int(request.query_params.get("conversation", ""))
        except ValueError:
            return _error("invalid", "conversation: a conversation id is required.")
        conversation = conversation_get_for(user=request.user, conversation_id=conversation_id)
        if conversation is None:
            return _error("not_found", "No such conversation.")
        active = request.query_params.get("active", "1").lower() not in ("0", "false", "no")
        jobs = selectors.render_jobs_of_conversation(user=request.user, conversation=conversation, active_only=active)
        return Response({"conversation_id": conversation.pk, "jobs": [job_payload(job) for job in jobs]})

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        body = _parse(EvolveBody, request.data)
        if isinstance(body, Response):
            return body
        job, created = services.evolve_request(
            user=request.user, message=body.message_id, direction=body.direction,
            client_id=body.client_id, beat_override=body.beat,
        )
        return Response(job_payload(job), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class PreviewView(EvolveAPIView):
    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        body = _parse(PreviewBody, request.data)
        if isinstance(body, Response):
            return body
        beat = services.scene_preview(user=request.user, message=body.message_id, direction=body.direction)
        return Response({"message_id": body.message_id, "beat": beat.model_dump(mode="json")})


class JobDetailView(EvolveAPIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, job_id) -> Response:
        return Response(job_payload(services.job_get_for(user=request.user, job_id=job_id)))


class JobCancelView(EvolveAPIView):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, job_id) -> Response:
        return Response(job_payload(services.evolve_cancel(user=request.user, job_id=job_id)))


class ReelCreateView(EvolveAPIView):
    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        body = _parse(ReelBody, request.data)
        if isinstance(body, Response):
            return body
        conversation = conversation_get_for(user=request.user, conversation_id=body.conversation_id)
        if conversation is None:
            return _error("not_found", "No such conversation.")
        job, created = services.reel_create(
            user=request.user, conversation=conversation, job_ids=body.job_ids, client_id=body.client_id
        )
        return Response(job_payload(job), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
