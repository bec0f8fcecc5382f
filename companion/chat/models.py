"""Conversations and their messages."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class TurnOrder(models.TextChoices):
    """Who answers in a group scene (companion.chat.scene.speaker_choose)."""

    NATURAL = "natural"  # the persona addressed by name, else the one whose card fits the message best
    LIST = "list"  # members in turn, by position
    MANUAL = "manual"  # the user names who answers; else the first member


class Conversation(models.Model):
    """One line of talk between an owner and a persona; a branch is a conversation too.

    Branches ("Branch from here", ``services.conversation_branch``) *copy* the
    active history up to the branch point instead of sharing rows by reference:
    every piece of the chat (seq and history.sync, alternatives, edits,
    deletes, streaming, per-message memory bookkeeping) is keyed by
    ``Message.conversation``, so a branch made of its own rows needs no change
    anywhere else and cannot disturb its parent. Each copy names its source in
    ``Message.copied_from``; memory reads that to leave the copies to the
    source's items (companion.memory.indexing.turns_pending) instead of
    learning them twice.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    persona = models.ForeignKey("personas.Persona", on_delete=models.PROTECT, related_name="conversations")
    title = models.CharField(max_length=200, blank=True)
    archived = models.BooleanField(default=False)
    # World books the owner attached (companion.chat.lore); the persona's own book always applies.
    lorebooks = models.ManyToManyField("personas.Lorebook", blank=True, related_name="conversations")
    # The conversation this one branched from and the parent's message it branched after (its copy is this
    # conversation's last copied message). SET_NULL: deleting a parent leaves its branches standing as roots.
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="branches")
    branched_from = models.ForeignKey(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="branches"
    )
    # Group scenes: who answers when several personas are members (ConversationMember).
    turn_order = models.CharField(max_length=10, choices=TurnOrder.choices, default=TurnOrder.NATURAL)
    # Highest seq handed out so far; bumped under a row lock (see services._next_seq).
    last_seq = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["owner", "archived", "-updated_at"])]

    def __str__(self) -> str:
        return self.title or f"{self.persona} #{self.pk}"


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user"
        PERSONA = "persona"
        SYSTEM = "system"

    class Kind(models.TextChoices):
        TEXT = "text"
        CLIP = "clip"
        NOTICE = "notice"

    class Status(models.TextChoices):
        STREAMING = "streaming"
        COMPLETE = "complete"
        INTERRUPTED = "interrupted"
        FAILED = "failed"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveIntegerField()
    # Conversation-wide change counter at this row's last change (creation,
    # stream end, edit, delete). history.sync{after_seq} returns rows whose
    # changed_seq is newer, so a reconnecting client also gets replies that
    # finished while it was away.
    changed_seq = models.PositiveIntegerField(default=0, db_index=True)
    role = models.CharField(max_length=10, choices=Role.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEXT)
    content = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.COMPLETE)
    client_id = models.CharField(max_length=64, blank=True)
    # Regenerated alternatives point at the first version of the reply ("swipes").
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="alternatives")
    # The alternative currently shown; exactly one per reply slot is active.
    is_active = models.BooleanField(default=True)
    deleted = models.BooleanField(default=False)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    error_detail = models.CharField(max_length=500, blank=True)
    # A branch's copy of an earlier turn: the turn that holds its memory items (the original, also for a
    # branch of a branch). SET_NULL: once that turn is gone the copy is memory's to index as its own.
    copied_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="copies"
    )
    # Group scenes: the persona that wrote this reply (null: the conversation's own persona, and on
    # user turns), and the persona ids present (members, not muted) when the turn was stored. Frozen
    # at write time because joins and mutes change later; memory reads it so each persona learns only
    # what it witnessed (companion.chat.scene.witnessed_by). Empty on rows from before group scenes:
    # those were witnessed by the conversation's persona alone.
    persona = models.ForeignKey(
        "personas.Persona", null=True, blank=True, on_delete=models.PROTECT, related_name="scene_replies"
    )
    witnesses = models.JSONField(default=list, blank=True)
    # Free-form per-message data: clip job id/url, imported chat `extra`, ...
    extra = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_unique_seq"),
            models.UniqueConstraint(
                fields=["conversation", "client_id"],
                condition=~models.Q(client_id=""),
                name="message_unique_client_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}#{self.seq} {self.role}"


class ConversationMember(models.Model):
    """A persona in a group scene. The conversation's own ``persona`` is always the first member
    (position 0); its row is made when a second persona joins (scene.members_ensure_primary), so a
    one-persona conversation has no rows and behaves as before."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="members")
    persona = models.ForeignKey("personas.Persona", on_delete=models.PROTECT, related_name="scene_memberships")
    position = models.PositiveSmallIntegerField(default=0)
    # The conversation's last_seq when it joined: turns up to it were said before it came.
    joined_at_seq = models.PositiveIntegerField(default=0)
    joined_at = models.DateTimeField(auto_now_add=True)
    # Muted until then: it neither answers nor witnesses (null: not muted).
    muted_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "persona"], name="member_unique_persona"),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}: {self.persona_id} @{self.position}"
