"""Memory panel API: thin views over selectors/services, owner-scoped (others get 404)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from companion.chat.models import Message
from companion.chat.scene import member_personas, persona_view
from companion.chat.selectors import conversation_get_for
from companion.memory import selectors, services
from companion.memory.api.serializers import (
    MemoryEditSerializer,
    MemorySerializer,
    PromptDebugSerializer,
    RecallResultSerializer,
    RelationshipSerializer,
    recall_payload,
)
from companion.memory.models import Memory
from companion.memory.relationship import stages_for


def _layers(request: Request, *, default: list[str] | None) -> list[str] | None:
    """``?layer=semantic`` (repeatable or comma-separated; ``all`` for every layer)."""
    asked = [x.strip() for v in request.query_params.getlist("layer") for x in v.split(",") if x.strip()]
    if not asked:
        return default
    if "all" in asked:
        return None
    return [x for x in asked if x in Memory.Layer.values] or default


def _conversation(request: Request, conversation_id: int):
    """Your conversation, as seen by the scene member ``?persona=<id>`` names (default: its own persona).
    Memory is per persona: in a group scene each member remembers only what it witnessed."""
    conversation = conversation_get_for(user=request.user, conversation_id=conversation_id)
    if conversation is None:
        raise Http404
    asked = request.query_params.get("persona")
    if asked:
        member = next((p for p in member_personas(conversation) if str(p.pk) == asked.strip()), None)
        if member is None:
            raise Http404
        return persona_view(conversation, member)
    return conversation


class ConversationMemoriesView(APIView):
    """What the persona of this conversation remembers about you (all your chats with it)."""

    @extend_schema(responses=MemorySerializer(many=True))
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = _conversation(request, conversation_id)
        rows = selectors.memories_for_pair(user=request.user, persona=conversation.persona,
                                           layers=_layers(request, default=[Memory.Layer.SEMANTIC]))
        return Response({"results": MemorySerializer(rows[:500], many=True).data, "count": rows.count()})


class MemoryDetailView(APIView):
    def _memory(self, request: Request, memory_id: int):
        memory = selectors.memory_get_for(user=request.user, memory_id=memory_id)
        if memory is None:
            raise Http404
        return memory

    @extend_schema(responses=MemorySerializer)
    def get(self, request: Request, memory_id: int) -> Response:
        return Response(MemorySerializer(self._memory(request, memory_id)).data)

    @extend_schema(request=MemoryEditSerializer, responses=MemorySerializer)
    def patch(self, request: Request, memory_id: int) -> Response:
        memory = self._memory(request, memory_id)
        edit = MemoryEditSerializer(data=request.data)
        edit.is_valid(raise_exception=True)
        memory = services.memory_update(memory=memory, by_user=True, **edit.validated_data)
        return Response(MemorySerializer(memory).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, memory_id: int) -> Response:
        services.memory_delete(memory=self._memory(request, memory_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RelationshipView(APIView):
    """Stage, scores, the persona's stage ladder and the milestone timeline."""

    @extend_schema(responses=RelationshipSerializer)
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = _conversation(request, conversation_id)
        persona = conversation.persona
        stage, state = selectors.relationship_stage(user=request.user, persona=persona)
        milestones = selectors.milestones_for_pair(user=request.user, persona=persona)
        return Response(RelationshipSerializer({
            "persona": {"id": persona.pk, "name": persona.name},
            "stage": stage.name,
            "stage_label": stage.label,
            "stages": [{"name": s.name, "label": s.label} for s in stages_for(persona)],
            "affinity": state.affinity if state else 0.0,
            "trust": state.trust if state else 0.0,
            "exchanges": state.exchanges if state else 0,
            "first_met_at": state.first_met_at if state else None,
            "timeline": milestones,
        }).data)


class RecallView(APIView):
    """Ranked items for ?q=… across layers (``&layer=`` to narrow), with score parts, the query plan
    and each item's source messages (what the prompt would get; same shape as ``manage.py recall --json``)."""

    @extend_schema(responses=RecallResultSerializer)
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = _conversation(request, conversation_id)
        try:
            k = max(1, min(50, int(request.query_params.get("k", 8))))
        except ValueError:
            k = 8
        return Response(recall_payload(conversation=conversation, query=request.query_params.get("q", ""), k=k,
                                       layers=_layers(request, default=None)))


class PromptDebugView(APIView):
    """The assembled prompt a reply was generated from (``extra["prompt"]``).

    For staff debugging their own personas in their own conversations: staff
    get no window into anyone else's chats (those stay private to their owner).
    """

    permission_classes = [IsAdminUser]

    @extend_schema(responses=PromptDebugSerializer)
    def get(self, request: Request, message_id: int) -> Response:
        message = (
            Message.objects.filter(pk=message_id, conversation__owner=request.user)
            .select_related("conversation")
            .first()
        )
        if message is None:
            raise Http404
        return Response(PromptDebugSerializer({
            "message_id": message.pk,
            "conversation_id": message.conversation_id,
            "role": message.role,
            "prompt": (message.extra or {}).get("prompt"),
        }).data)
