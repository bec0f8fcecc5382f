"""REST representations the chat app does not already define.

Messages and conversations reuse ``companion.chat.serializers`` (one shape for
websocket frames and REST); personas get a public-card view here, since the
``personas`` app has no DRF layer of its own.
"""

from __future__ import annotations

import json

from rest_framework import serializers

from companion.chat.serializers import portrait_url
from personas.limits import JSON_LIMITS
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


class ConversationBranchSerializer(serializers.Serializer):
    message_id = serializers.IntegerField(min_value=1, help_text="The message of this conversation to branch after.")


class ConversationArchiveSerializer(serializers.Serializer):
    archived = serializers.BooleanField(default=True)


class MessagePageQuerySerializer(serializers.Serializer):
    after_seq = serializers.IntegerField(min_value=0, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=500, default=100)


# --- lorebooks (world books) ---------------------------------------------------------------------

LOREBOOK_MAX_ENTRIES = 1000


class LoreEntryInSerializer(serializers.Serializer):
    """The Character Card V2/V3 entry fields we check; any other field is kept as sent."""

    keys = serializers.ListField(child=serializers.CharField(max_length=500, trim_whitespace=False), max_length=100)
    content = serializers.CharField(max_length=8_000, trim_whitespace=False)
    enabled = serializers.BooleanField(required=False)
    insertion_order = serializers.IntegerField(required=False)
    extensions = serializers.DictField(required=False)
    secondary_keys = serializers.ListField(child=serializers.CharField(max_length=500), required=False, max_length=100)
    position = serializers.ChoiceField(["before_char", "after_char"], required=False)


class LorebookInSerializer(serializers.Serializer):
    """A world book in the card's ``character_book`` shape (e.g. a card's book, or one exported here)."""

    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=4_000)
    scan_depth = serializers.IntegerField(required=False, min_value=0, max_value=1000, allow_null=True)
    token_budget = serializers.IntegerField(required=False, min_value=0, allow_null=True)
    recursive_scanning = serializers.BooleanField(required=False)
    extensions = serializers.DictField(required=False)
    entries = LoreEntryInSerializer(many=True, max_length=LOREBOOK_MAX_ENTRIES)

    def validate(self, attrs: dict) -> dict:
        size = len(json.dumps(self.initial_data, ensure_ascii=False).encode())
        if size > JSON_LIMITS["character_book"]:
            raise serializers.ValidationError(f"At most {JSON_LIMITS['character_book'] // 1024} KB of JSON.")
        return attrs


class LorebookSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    book = serializers.JSONField(help_text="The book in the card's character_book shape, entries included.")
    conversations = serializers.ListField(child=serializers.IntegerField(), help_text="Attached to these.")
    created_at = serializers.DateTimeField()


class LorebookAttachSerializer(serializers.Serializer):
    conversation = serializers.IntegerField(help_text="Id of one of your conversations.")


class MemberAddSerializer(serializers.Serializer):
    """A persona (id or slug) you can chat with, to join the scene."""

    persona = serializers.CharField(max_length=120)


class MemberUpdateSerializer(serializers.Serializer):
    """Mute for this many minutes (0 unmutes; at most a week)."""

    mute_minutes = serializers.IntegerField(min_value=0, max_value=7 * 24 * 60)


class TurnOrderSerializer(serializers.Serializer):
    turn_order = serializers.ChoiceField(choices=["natural", "list", "manual"])
