"""JSON shapes of the Memory panel API."""

from __future__ import annotations

from typing import Any

from django.db.models import prefetch_related_objects
from rest_framework import serializers

from companion.memory.models import Memory, Milestone
from companion.memory.selectors import memories_recall

SNIPPET_CHARS = 160


def original_extra(message: Any) -> dict[str, Any] | None:
    """The imported line's own ``extra`` object (SillyTavern's), or None for a message typed here."""
    extra = message.extra or {}
    value = extra.get("st_extra")
    return value if isinstance(value, dict) else None


class SourceMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    seq = serializers.IntegerField()
    role = serializers.CharField()
    speaker = serializers.SerializerMethodField()
    snippet = serializers.SerializerMethodField()
    content = serializers.CharField()
    created_at = serializers.DateTimeField()
    extra = serializers.SerializerMethodField()

    def get_snippet(self, obj: Any) -> str:
        text = obj.content or ""
        return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"

    def get_speaker(self, obj: Any) -> str:
        return str((obj.extra or {}).get("st_name") or "")

    def get_extra(self, obj: Any) -> dict[str, Any] | None:
        return original_extra(obj)


class MemorySerializer(serializers.ModelSerializer):
    sources = serializers.SerializerMethodField()

    class Meta:
        model = Memory
        fields = [
            "id", "text", "layer", "kind", "speaker", "importance", "conversation_id", "created_at", "ended_at",
            "updated_at", "last_recalled_at", "times_recalled", "edited_by_user", "sources",
        ]
        read_only_fields = [
            "id", "layer", "speaker", "conversation_id", "created_at", "ended_at", "updated_at", "last_recalled_at",
            "times_recalled", "edited_by_user", "sources",
        ]

    def get_sources(self, obj: Memory) -> list[dict[str, Any]]:
        messages = sorted(obj.source_messages.all(), key=lambda m: (m.created_at, m.pk))
        return SourceMessageSerializer([m for m in messages if not m.deleted], many=True).data


class MemoryEditSerializer(serializers.Serializer):
    text = serializers.CharField(required=False, max_length=1000, trim_whitespace=True, allow_blank=False)
    kind = serializers.ChoiceField(choices=Memory.Kind.choices, required=False)
    importance = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)


class MilestoneSerializer(serializers.ModelSerializer):
    message_id = serializers.IntegerField(allow_null=True)
    conversation_id = serializers.SerializerMethodField()

    class Meta:
        model = Milestone
        fields = ["id", "kind", "title", "happened_at", "message_id", "conversation_id", "data"]

    def get_conversation_id(self, obj: Milestone) -> int | None:
        return obj.message.conversation_id if obj.message_id else None


# --- response shapes of the read-only views (also what the OpenAPI schema documents) ---


class StageSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()


class PersonaRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class RelationshipSerializer(serializers.Serializer):
    persona = PersonaRefSerializer()
    stage = serializers.CharField()
    stage_label = serializers.CharField()
    stages = StageSerializer(many=True)
    affinity = serializers.FloatField()
    trust = serializers.FloatField()
    exchanges = serializers.IntegerField()
    first_met_at = serializers.DateTimeField(allow_null=True)
    timeline = MilestoneSerializer(many=True)


class RecalledMemorySerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    layer = serializers.CharField()
    score = serializers.FloatField()
    parts = serializers.DictField(child=serializers.FloatField())
    memory = MemorySerializer()


class RecallPlanSerializer(serializers.Serializer):
    parts = serializers.ListField(child=serializers.CharField())
    window = serializers.DictField(allow_null=True, required=False)
    anchor = serializers.CharField(allow_null=True, required=False)
    relation = serializers.CharField(allow_null=True, required=False)


class RecallResultSerializer(serializers.Serializer):
    """What the REST recall view and ``manage.py recall --json`` both return."""

    conversation_id = serializers.IntegerField()
    query = serializers.CharField(allow_blank=True)
    k = serializers.IntegerField()
    plan = RecallPlanSerializer(allow_null=True)
    results = RecalledMemorySerializer(many=True)


def recall_payload(*, conversation: Any, query: str, k: int, layers: list[str] | None = None) -> dict[str, Any]:
    """Recall for ``conversation``'s pair, serialised (one shape for the API and the command)."""
    plan: dict[str, Any] = {}
    found = memories_recall(user=conversation.owner, persona=conversation.persona, query=query, k=k,
                            layers=layers, explain=plan)
    prefetch_related_objects([r.memory for r in found], "source_messages")  # one query, not one per result
    return RecallResultSerializer({
        "conversation_id": conversation.pk, "query": query, "k": k, "plan": plan or None,
        "results": [{"rank": i, "layer": r.memory.layer, "score": r.score, "parts": r.parts, "memory": r.memory}
                    for i, r in enumerate(found, start=1)],
    }).data


class PromptDebugSerializer(serializers.Serializer):
    message_id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    role = serializers.CharField()
    prompt = serializers.JSONField(allow_null=True)
