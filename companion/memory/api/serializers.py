"""JSON shapes of the Memory panel API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from companion.memory.models import Memory, Milestone

SNIPPET_CHARS = 160


class SourceMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    seq = serializers.IntegerField()
    role = serializers.CharField()
    snippet = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_snippet(self, obj: Any) -> str:
        text = obj.content or ""
        return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


class MemorySerializer(serializers.ModelSerializer):
    sources = serializers.SerializerMethodField()

    class Meta:
        model = Memory
        fields = [
            "id", "text", "kind", "importance", "conversation_id", "created_at", "updated_at",
            "last_recalled_at", "times_recalled", "edited_by_user", "sources",
        ]
        read_only_fields = [
            "id", "conversation_id", "created_at", "updated_at", "last_recalled_at", "times_recalled",
            "edited_by_user", "sources",
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
    score = serializers.FloatField()
    parts = serializers.DictField(child=serializers.FloatField())
    memory = MemorySerializer()


class RecallResultSerializer(serializers.Serializer):
    results = RecalledMemorySerializer(many=True)


class PromptDebugSerializer(serializers.Serializer):
    message_id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    role = serializers.CharField()
    prompt = serializers.JSONField(allow_null=True)
