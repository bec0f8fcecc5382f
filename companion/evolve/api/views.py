"""REST endpoints for Evolve (same services as the websocket handlers; owner-scoped).

- POST /api/evolve/jobs/            {message_id, direction?, beat?, client_id?} -> job (201 new, 200 existing)
- GET  /api/evolve/jobs/?conversation=<id>[&active=1|0] -> {jobs: [...]} the user's clip jobs of that
  conversation, newest first (active=1, the default: only queued/running; 404 for someone else's)
- POST /api/evolve/preview/         {message_id, direction?} -> {message_id, beat}
- GET  /api/evolve/jobs/<id>/       -> job
- POST /api/evolve/jobs/<id>/cancel/ -> job
- POST /api/evolve/jobs/<id>/continue/ {text?, client_id?} -> the continued clip's job (201 new, 200 existing;
  404 for someone else's clip)
- POST /api/evolve/reels/           {conversation_id, job_ids: [...], client_id?} -> reel job (201/200)
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from companion.chat.selectors import conversation_get_for
from companion.evolve import continues, selectors, services
from companion.evolve.api.serializers import (
    ContinueRequestSerializer,
    ContractField,
    EvolveRequestSerializer,
    JobListQuerySerializer,
    PreviewRequestSerializer,
    ReelRequestSerializer,
)
from companion.evolve.payloads import JobSerializer, job_payload
from rendering.beat import SceneBeat

JOB_CREATED = {201: JobSerializer, 200: JobSerializer}  # 200: the same request was made before
JOB_LIST = inline_serializer("EvolveJobList", {"conversation_id": serializers.IntegerField(),
                                               "jobs": JobSerializer(many=True)})
PREVIEW = inline_serializer("EvolvePreview", {"message_id": serializers.IntegerField(),
                                              "beat": ContractField(SceneBeat)})


class EvolveAPIView(APIView):
    """Evolve's REST views: bodies are DRF serializers; refusals (EvolveError) and validation errors become
    ``{code, detail}`` in companion.api.exceptions (rate_limited: 429 with Retry-After)."""


def _conversation(request: Request, conversation_id: int):
    conversation = conversation_get_for(user=request.user, conversation_id=conversation_id)
    if conversation is None:
        raise services.EvolveError("not_found", "No such conversation.")
    return conversation


class JobCreateView(EvolveAPIView):
    @extend_schema(operation_id="evolve_jobs_list", parameters=[JobListQuerySerializer], responses=JOB_LIST)
    def get(self, request: Request) -> Response:
        # A plain dict: given a QueryDict, a BooleanField reads a missing ``active`` as an unticked checkbox.
        query = JobListQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        conversation = _conversation(request, query.validated_data["conversation"])
        jobs = selectors.render_jobs_of_conversation(user=request.user, conversation=conversation,
                                                     active_only=query.validated_data["active"])
        return Response({"conversation_id": conversation.pk, "jobs": [job_payload(job) for job in jobs]})

    @extend_schema(request=EvolveRequestSerializer, responses=JOB_CREATED)
    def post(self, request: Request) -> Response:
        body = EvolveRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        job, created = services.evolve_request(
            user=request.user, message=data["message_id"], direction=data.get("direction"),
            client_id=data["client_id"], beat_override=data.get("beat"),
        )
        return Response(job_payload(job), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class PreviewView(EvolveAPIView):
    @extend_schema(request=PreviewRequestSerializer, responses=PREVIEW)
    def post(self, request: Request) -> Response:
        body = PreviewRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        message_id = body.validated_data["message_id"]
        beat = services.scene_preview(user=request.user, message=message_id,
                                      direction=body.validated_data.get("direction"))
        return Response({"message_id": message_id, "beat": beat.model_dump(mode="json")})


class JobDetailView(EvolveAPIView):
    @extend_schema(responses=JobSerializer)
    def get(self, request: Request, job_id) -> Response:
        return Response(job_payload(services.job_get_for(user=request.user, job_id=job_id)))


class JobCancelView(EvolveAPIView):
    @extend_schema(request=None, responses=JobSerializer)
    def post(self, request: Request, job_id) -> Response:
        return Response(job_payload(services.evolve_cancel(user=request.user, job_id=job_id)))


class JobContinueView(EvolveAPIView):
    @extend_schema(request=ContinueRequestSerializer, responses=JOB_CREATED)
    def post(self, request: Request, job_id) -> Response:
        body = ContinueRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job, created = continues.continue_request(user=request.user, job_id=job_id, text=body.validated_data["text"],
                                                  client_id=body.validated_data["client_id"])
        return Response(job_payload(job), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ReelCreateView(EvolveAPIView):
    @extend_schema(request=ReelRequestSerializer, responses=JOB_CREATED)
    def post(self, request: Request) -> Response:
        body = ReelRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        job, created = services.reel_create(
            user=request.user, conversation=_conversation(request, data["conversation_id"]), job_ids=data["job_ids"],
            client_id=data["client_id"],
        )
        return Response(job_payload(job), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
