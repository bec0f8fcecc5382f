"""One representation of conversations and messages for websocket frames and the REST API."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from companion.chat.models import Conversation, Message
from companion.chat.scene import is_muted
from companion.chat.selectors import alternatives_map, last_message_preview
from personas.models import Persona

PREVIEW_CHARS = 120
PRIVATE_EXTRA_KEYS = frozenset({"prompt"})  # staff-only: the assembled prompt


class MessageSerializer(serializers.ModelSerializer):
    """A message as clients see it.

    ``alternative_ids`` lists every version of a persona reply slot (by seq,
    this one included; empty for user messages); ``position`` is the seq of the
    slot's first version, where a client shows whichever version is active.
    Pass ``context={"alternatives": alternatives_map(messages)}`` when
    serialising many messages to avoid one query per reply.
    """

    parent_id = serializers.IntegerField(read_only=True, allow_null=True)
    # Group scenes: who wrote a persona reply (null on user turns and on replies from before groups,
    # which are the conversation's own persona's), and the persona ids that witnessed the turn.
    persona_id = serializers.IntegerField(read_only=True, allow_null=True)
    speaker = serializers.SerializerMethodField()
    alternative_ids = serializers.SerializerMethodField()
    position = serializers.SerializerMethodField()
    extra = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = [
            "id",
            "seq",
            "changed_seq",
            "position",
            "role",
            "kind",
            "content",
            "status",
            "client_id",
            "parent_id",
            "persona_id",
            "speaker",
            "witnesses",
            "is_active",
            "alternative_ids",
            "deleted",
            "error_detail",
            "extra",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_alternative_ids(self, obj: Message) -> list[int]:
        if obj.role != Message.Role.PERSONA:
            return []
        known = self.context.get("alternatives")
        if known is None:
            known = alternatives_map([obj])
        return known.get(obj.parent_id or obj.pk, [obj.pk])

    def get_speaker(self, obj: Message) -> str | None:
        """The name of the persona that wrote a reply (labels replies in a group scene)."""
        if obj.role != Message.Role.PERSONA or not obj.persona_id:
            return None
        names = self.context.get("persona_names")
        if names is not None and obj.persona_id in names:
            return names[obj.persona_id]
        return obj.persona.name

    def get_position(self, obj: Message) -> int:
        return obj.parent.seq if obj.parent_id else obj.seq

    def get_extra(self, obj: Message) -> dict[str, Any]:
        return {k: v for k, v in (obj.extra or {}).items() if k not in PRIVATE_EXTRA_KEYS}


def message_payload(message: Message, *, alternatives: dict[int, list[int]] | None = None,
                    persona_names: dict[int, str] | None = None) -> dict[str, Any]:
    """A message as the plain (JSON-ready) dict websocket frames carry."""
    context: dict[str, Any] = {"alternatives": alternatives} if alternatives is not None else {}
    if persona_names is not None:
        context["persona_names"] = persona_names
    return dict(MessageSerializer(message, context=context).data)


def messages_payload(messages: list[Message]) -> list[dict[str, Any]]:
    alternatives = alternatives_map(messages)
    names = speaker_names(messages)
    return [message_payload(m, alternatives=alternatives, persona_names=names) for m in messages]


def speaker_names(messages: list[Message]) -> dict[int, str]:
    """{persona id: name} for the replies among ``messages`` (one query)."""
    ids = {m.persona_id for m in messages if m.persona_id}
    return dict(Persona.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}


class PersonaBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    portrait_url = serializers.SerializerMethodField()

    def get_portrait_url(self, persona: Any) -> str | None:
        return portrait_url(persona, self.context.get("request"))


def portrait_url(persona: Any, request: Any = None) -> str | None:
    """The visibility-checked portrait view (MEDIA_ROOT itself is not served)."""
    if not persona.portrait:
        return None
    url = reverse("persona-portrait", kwargs={"slug": persona.slug})
    return request.build_absolute_uri(url) if request is not None else url


class ConversationSerializer(serializers.ModelSerializer):
    persona = PersonaBriefSerializer(read_only=True)
    last_message_preview = serializers.SerializerMethodField()
    # A branch: the conversation it branched from and that conversation's message it branched after.
    parent_id = serializers.IntegerField(read_only=True, allow_null=True)
    branched_from_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Conversation
        fields = ["id", "persona", "title", "archived", "last_seq", "last_message_preview", "parent_id",
                  "branched_from_id", "turn_order", "created_at", "updated_at"]
        read_only_fields = ["id", "persona", "last_seq", "last_message_preview", "parent_id", "branched_from_id",
                            "turn_order", "created_at", "updated_at"]

    def get_last_message_preview(self, obj: Conversation) -> str:
        # conversation_list_for annotates last_preview; a lone object costs one query.
        if hasattr(obj, "last_preview"):
            text = obj.last_preview or ""
        else:
            last = last_message_preview(conversation=obj)
            text = last.content if last else ""
        return text[:PREVIEW_CHARS]


class BranchPointSerializer(serializers.Serializer):
    message_id = serializers.IntegerField(source="branched_from.pk")
    seq = serializers.IntegerField(source="branched_from.seq")
    role = serializers.CharField(source="branched_from.role")
    snippet = serializers.CharField()


class BranchNodeSerializer(serializers.Serializer):
    """One conversation of a branch tree (``chat.selectors.conversation_branch_tree``)."""

    id = serializers.IntegerField(source="conversation.pk")
    title = serializers.CharField(source="conversation.title")
    parent_id = serializers.IntegerField(source="conversation.parent_id", allow_null=True)
    depth = serializers.IntegerField()
    branched_from = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(source="conversation.created_at")

    @extend_schema_field(BranchPointSerializer(allow_null=True))
    def get_branched_from(self, node: Any) -> dict[str, Any] | None:
        return dict(BranchPointSerializer(node).data) if node.branched_from is not None else None


class MemberSerializer(serializers.Serializer):
    """A persona in a group scene (``companion.chat.scene``); the conversation's own persona is position 0."""

    persona = PersonaBriefSerializer()
    position = serializers.IntegerField()
    joined_at_seq = serializers.IntegerField()
    muted_until = serializers.DateTimeField(allow_null=True)
    muted = serializers.SerializerMethodField()
    primary = serializers.SerializerMethodField()

    def get_muted(self, member: Any) -> bool:
        return is_muted(member)

    def get_primary(self, member: Any) -> bool:
        return member.persona_id == member.conversation.persona_id
