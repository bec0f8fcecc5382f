"""REST API: personas (read), conversations (owner-scoped), messages (read, by seq), world books.

Thin views over the chat services and selectors. Anything owned by someone
else answers 404, exactly like something that does not exist.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from companion.accounts.auth import token_expired, token_expires_at
from companion.api.selectors import messages_changed_after
from companion.api.serializers import (
    ConversationArchiveSerializer,
    ConversationBranchSerializer,
    ConversationCreateSerializer,
    LorebookAttachSerializer,
    LorebookInSerializer,
    LorebookSerializer,
    MemberAddSerializer,
    MemberUpdateSerializer,
    MessagePageQuerySerializer,
    PersonaSerializer,
    TurnOrderSerializer,
)
from companion.chat import scene, services
from companion.chat.lore import lorebook_attach, lorebook_detach
from companion.chat.models import Conversation
from companion.chat.selectors import (
    alternatives_map,
    conversation_branch_tree,
    conversation_get_for,
    conversation_list_for,
    message_get_in,
)
from companion.chat.serializers import (
    BranchNodeSerializer,
    ConversationSerializer,
    MemberSerializer,
    MessageSerializer,
    speaker_names,
)
from personas.models import Lorebook, Persona
from personas.selectors import lorebook_card, lorebook_list_for, persona_get_visible, persona_list_visible
from personas.services import lorebook_create, lorebook_delete


class TokenObtainView(ObtainAuthToken):
    """POST username + password -> {token, expires_at}; an expired token is replaced by a fresh one.

    Failed attempts count towards the login lockout (companion.accounts.auth) like the login page's.
    """

    def post(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        if not serializer.is_valid():
            # axes marks the request when this username (from this address) is locked out; say so,
            # like the login page does, instead of a "wrong password" that invites more guessing.
            if getattr(request, "axes_locked_out", False):
                return Response({"code": "locked_out", "detail": "Too many failed logins; try again later."},
                                status=status.HTTP_429_TOO_MANY_REQUESTS)
            raise serializers.ValidationError(serializer.errors)
        user = serializer.validated_data["user"]
        token, created = Token.objects.get_or_create(user=user)
        if not created and token_expired(token):
            token.delete()
            token = Token.objects.create(user=user)
        return Response({"token": token.key, "expires_at": token_expires_at(token)})


class DocsPermission(permissions.BasePermission):
    """/api/schema/ and /api/docs/: anyone when API_DOCS_PUBLIC (the embedded default), else signed-in users."""

    def has_permission(self, request, view) -> bool:
        return settings.API_DOCS_PUBLIC or bool(request.user and request.user.is_authenticated)


class PersonaViewSet(viewsets.ReadOnlyModelViewSet):
    """Personas you can chat with: every public one plus your own private ones."""

    serializer_class = PersonaSerializer
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    lookup_url_kwarg = "persona"

    def get_queryset(self):
        return persona_list_visible(user=self.request.user).order_by("name")

    def get_object(self) -> Persona:
        try:
            return persona_get_visible(user=self.request.user, slug_or_id=self.kwargs["persona"])
        except Persona.DoesNotExist as exc:
            raise Http404 from exc


@extend_schema(
    parameters=[OpenApiParameter("archived", bool, description="List archived conversations instead (list only).")]
)
class ConversationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Your conversations. Someone else's conversation is a 404."""

    serializer_class = ConversationSerializer

    lookup_value_regex = r"\d+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Conversation.objects.none()
        archived = self.request.query_params.get("archived", "").lower() in {"1", "true", "yes"}
        return conversation_list_for(user=self.request.user, archived=archived)

    def get_object(self) -> Conversation:
        try:
            conversation_id = int(self.kwargs["pk"])
        except (TypeError, ValueError) as exc:
            raise Http404 from exc
        conversation = conversation_get_for(user=self.request.user, conversation_id=conversation_id)
        if conversation is None:
            raise Http404
        return conversation

    @extend_schema(request=ConversationCreateSerializer, responses={201: ConversationSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:
        data = ConversationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            persona = persona_get_visible(user=request.user, slug_or_id=data.validated_data["persona"])
        except Persona.DoesNotExist:
            raise serializers.ValidationError({"persona": ["No such persona."]}) from None
        conversation = services.conversation_start(owner=request.user, persona=persona)
        return Response(self.get_serializer(conversation).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Conversation) -> None:
        services.conversation_delete(conversation=instance)

    @extend_schema(request=ConversationArchiveSerializer, responses={200: ConversationSerializer})
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, pk: str | None = None) -> Response:
        """Archive (or, with ``{"archived": false}``, unarchive) a conversation."""
        body = ConversationArchiveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        conversation = services.conversation_archive(
            conversation=self.get_object(), archived=body.validated_data["archived"]
        )
        return Response(self.get_serializer(conversation).data)

    @extend_schema(request=ConversationBranchSerializer, responses={201: ConversationSerializer})
    @action(detail=True, methods=["post"])
    def branch(self, request: Request, pk: str | None = None) -> Response:
        """Branch from a message: a new conversation with a copy of the history up to and including it."""
        body = ConversationBranchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        message = message_get_in(conversation=self.get_object(), message_id=body.validated_data["message_id"])
        if message is None:
            raise Http404
        branch = services.conversation_branch(owner=request.user, message=message)
        return Response(self.get_serializer(branch).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: BranchNodeSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None)
    def branches(self, request: Request, pk: str | None = None) -> Response:
        """The branch tree this conversation belongs to: the root first, each branch under its parent,
        with the message each branched after."""
        nodes = conversation_branch_tree(user=request.user, conversation=self.get_object())
        return Response(BranchNodeSerializer(nodes, many=True).data)

    # --- group scenes (companion.chat.scene) ---

    def _members(self, request: Request, conversation: Conversation) -> Response:
        rows = scene.members_of(conversation)
        return Response(MemberSerializer(rows, many=True, context={"request": request}).data)

    @extend_schema(methods=["GET"], responses={200: MemberSerializer(many=True)})
    @extend_schema(methods=["POST"], request=MemberAddSerializer, responses={201: MemberSerializer(many=True)})
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def members(self, request: Request, pk: str | None = None) -> Response:
        """The personas in this scene (2-5 make a group; the conversation's own persona is the first).
        POST ``{"persona": id or slug}`` adds one: it hears the scene from now on, nothing said before."""
        conversation = self.get_object()
        if request.method == "POST":
            body = MemberAddSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            try:
                persona = persona_get_visible(user=request.user, slug_or_id=body.validated_data["persona"])
            except Persona.DoesNotExist:
                raise serializers.ValidationError({"persona": ["No such persona."]}) from None
            scene.member_add(conversation=conversation, persona=persona)
            response = self._members(request, conversation)
            response.status_code = status.HTTP_201_CREATED
            return response
        return self._members(request, conversation)

    @extend_schema(methods=["PATCH"], request=MemberUpdateSerializer, responses={200: MemberSerializer(many=True)})
    @extend_schema(methods=["DELETE"], responses={200: MemberSerializer(many=True)})
    @action(detail=True, methods=["patch", "delete"], url_path=r"members/(?P<persona_id>\d+)", pagination_class=None)
    def member(self, request: Request, pk: str | None = None, persona_id: str | None = None) -> Response:
        """PATCH ``{"mute_minutes": n}`` mutes a member (0 unmutes): muted, it neither answers nor hears.
        DELETE: it leaves the scene (its replies stay); the conversation's own persona cannot leave."""
        conversation = self.get_object()
        if request.method == "DELETE":
            scene.member_remove(conversation=conversation, persona_id=int(persona_id))
        else:
            body = MemberUpdateSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            scene.member_mute(conversation=conversation, persona_id=int(persona_id),
                              minutes=body.validated_data["mute_minutes"])
        return self._members(request, conversation)

    @extend_schema(request=TurnOrderSerializer, responses={200: ConversationSerializer})
    @action(detail=True, methods=["post"], url_path="turn_order")
    def turn_order(self, request: Request, pk: str | None = None) -> Response:
        """Who answers in a group scene: ``natural`` (the one addressed by name, else the best fit),
        ``list`` (members in turn) or ``manual`` (you name who answers)."""
        body = TurnOrderSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        conversation = scene.turn_order_set(conversation=self.get_object(),
                                            turn_order=body.validated_data["turn_order"])
        return Response(self.get_serializer(conversation).data)

    @extend_schema(
        parameters=[MessagePageQuerySerializer],
        responses={
            200: inline_serializer(
                "MessagePage",
                {
                    "results": MessageSerializer(many=True),
                    "next_after_seq": serializers.IntegerField(),
                    "has_more": serializers.BooleanField(),
                },
            )
        },
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def messages(self, request: Request, pk: str | None = None) -> Response:
        """Messages created or changed after ``after_seq``, oldest change first.

        The cursor is the same one ``history.sync`` uses: pass ``next_after_seq``
        back as ``after_seq`` while ``has_more`` is true; ``after_seq=0`` walks the
        whole history. Edited, finished and deleted (``deleted: true``, text
        cleared) messages reappear after their change, so a client that keeps
        the cursor stays in sync.
        """
        query = MessagePageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        after_seq, limit = query.validated_data["after_seq"], query.validated_data["limit"]
        conversation = self.get_object()
        rows, has_more = messages_changed_after(conversation=conversation, after_seq=after_seq, limit=limit)
        context = {"request": request, "alternatives": alternatives_map(rows), "persona_names": speaker_names(rows)}
        return Response(
            {
                "results": MessageSerializer(rows, many=True, context=context).data,
                "next_after_seq": rows[-1].changed_seq if rows else after_seq,
                "has_more": has_more,
            }
        )


class LorebookViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Your world books (lorebooks in the card's ``character_book`` shape), and attaching them to your
    conversations. Someone else's book or conversation is a 404."""

    serializer_class = LorebookSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Lorebook.objects.none()
        return lorebook_list_for(user=self.request.user).prefetch_related("conversations")

    def get_serializer(self, instance=None, *args, **kwargs):
        if isinstance(instance, Lorebook):
            instance = _lorebook_payload(instance)
        elif kwargs.get("many") and instance is not None:
            instance = [_lorebook_payload(b) for b in instance]
        return super().get_serializer(instance, *args, **kwargs)

    @extend_schema(request=LorebookInSerializer, responses={201: LorebookSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:
        body = LorebookInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        book = lorebook_create(owner=request.user, book=request.data)  # as sent: unknown fields are kept
        return Response(self.get_serializer(book).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Lorebook) -> None:
        lorebook_delete(book=instance)

    @extend_schema(request=LorebookAttachSerializer, responses={200: LorebookSerializer})
    @action(detail=True, methods=["post"])
    def attach(self, request: Request, pk: str | None = None) -> Response:
        """Attach this book to one of your conversations: its entries fire there from the next reply."""
        book, conversation = self._book_and_conversation(request)
        lorebook_attach(conversation=conversation, book=book)
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(request=LorebookAttachSerializer, responses={200: LorebookSerializer})
    @action(detail=True, methods=["post"])
    def detach(self, request: Request, pk: str | None = None) -> Response:
        """Detach this book from a conversation."""
        book, conversation = self._book_and_conversation(request)
        lorebook_detach(conversation=conversation, book=book)
        return Response(self.get_serializer(self.get_object()).data)

    def _book_and_conversation(self, request: Request) -> tuple[Lorebook, Conversation]:
        book = self.get_object()
        body = LorebookAttachSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        conversation = conversation_get_for(user=request.user, conversation_id=body.validated_data["conversation"])
        if conversation is None:
            raise Http404
        return book, conversation


def _lorebook_payload(book: Lorebook) -> dict:
    return {
        "id": book.pk,
        "book": lorebook_card(book=book),
        "conversations": sorted(c.pk for c in book.conversations.all()),
        "created_at": book.created_at,
    }
