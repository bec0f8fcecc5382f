"""REST representations the chat app does not already define.

Messages and conversations reuse ``companion.chat.serializers`` (one shape for
websocket frames and REST); personas get a public-card view here, since the
``personas`` app has no DRF layer of its own.
"""

from __future__ import annotations

from rest_framework import serializers

from companion.chat.serializers import portrait_url
from personas.models import Persona


class PersonaSerializer(serializers.ModelSerializer):
    """What a chatting user may read about a persona (no prompts, no LoRA files, no consent records)."""

    portrait_url = serializers.SerializerMethodField()
    is_own = serializers.SerializerMethodField()

    class Meta:
        model = Persona
        fields = [
            "id",
            "slug",
            "name",
            "tagline",
            "description",
            "personality",
            "scenario",
            "greeting",
            "appearance",
            "tags",
            "visibility",
            "provenance",
            "is_own",
            "portrait_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_portrait_url(self, persona: Persona) -> str | None:
        return portrait_url(persona, self.context.get("request"))

    def get_is_own(self, persona: Persona) -> bool:
        request = self.context.get("request")
        return bool(request and persona.owner_id is not None and persona.owner_id == request.user.pk)


class ConversationCreateSerializer(serializers.Serializer):
    persona = serializers.CharField(help_text="Slug or id of a persona you can see.")


class ConversationArchiveSerializer(serializers.Serializer):
    archived = serializers.BooleanField(default=True)


class MessagePageQuerySerializer(serializers.Serializer):
    after_seq = serializers.IntegerField(min_value=0, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=500, default=100)
