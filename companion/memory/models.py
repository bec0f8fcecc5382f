"""What a persona remembers about a user, and where the two stand.

Everything is keyed by (user, persona): memories outlive a single
conversation (a new chat with the same persona still knows your name), but a
memory learnt in a conversation dies with it (``conversation`` CASCADE) so
"delete this chat" really forgets it.
"""

from __future__ import annotations

import numpy as np
from django.conf import settings
from django.db import models
from django.utils import timezone


class Memory(models.Model):
    """One recallable item, in one of three layers.

    * ``episodic``: one per message of either speaker (``message`` is the turn,
      ``speaker`` who said it, ``created_at`` when): every turn is recallable.
    * ``semantic``: a fact, preference, boundary, event or promise in one whole
      sentence with names instead of pronouns (``message`` is the turn it was
      read from; more sources when the same fact was said again).
    * ``session``: a summary of one session (a gap of hours or N turns) from
      ``created_at`` to ``ended_at``; ``message`` is the session's first turn.
    """

    class Kind(models.TextChoices):
        FACT = "fact"
        PREFERENCE = "preference"
        EVENT = "event"
        MILESTONE = "milestone"
        BOUNDARY = "boundary"
        TURN = "turn"
        SUMMARY = "summary"

    class Layer(models.TextChoices):
        EPISODIC = "episodic"
        SEMANTIC = "semantic"
        SESSION = "session"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memories")
    persona = models.ForeignKey("personas.Persona", on_delete=models.CASCADE, related_name="memories")
    conversation = models.ForeignKey(
        "chat.Conversation", null=True, blank=True, on_delete=models.CASCADE, related_name="memories"
    )
    text = models.TextField()
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.FACT)
    layer = models.CharField(max_length=10, choices=Layer.choices, default=Layer.SEMANTIC)
    # The turn this item is (episodic), was read from (semantic) or starts at (session).
    # CASCADE: a message that is really deleted takes its items with it.
    message = models.ForeignKey(
        "chat.Message", null=True, blank=True, on_delete=models.CASCADE, related_name="memory_items"
    )
    speaker = models.CharField(max_length=120, blank=True)  # who said it (episodic/semantic)
    ended_at = models.DateTimeField(null=True, blank=True)  # session items: the last turn's date
    importance = models.FloatField(default=0.5)  # 0..1
    # A normalised key ("name", "likes:tea", ...) the deterministic extractor
    # uses to find the memory a new statement updates or retracts.
    slot = models.CharField(max_length=120, blank=True, db_index=True)
    source_messages = models.ManyToManyField("chat.Message", blank=True, related_name="memories")
    # float32 little-endian vector (MiniLM: 384 dims, L2-normalised).
    embedding = models.BinaryField(null=True, blank=True, editable=False)
    # Set when the user edited it in the Memory panel: the extractor never
    # overwrites or deletes what the user wrote themselves.
    edited_by_user = models.BooleanField(default=False)
    # Not auto_now_add: an imported chat dates memories by the original messages.
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_recalled_at = models.DateTimeField(null=True, blank=True)
    times_recalled = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["user", "persona", "-created_at"]),
            # The prompt's "boundaries" lookup: one kind, best first, without a sort.
            models.Index(
                fields=["user", "persona", "kind", "-importance", "-created_at"], name="memory_pair_kind_rank_idx"
            ),
            models.Index(fields=["user", "persona", "layer", "-created_at"], name="memory_pair_layer_idx"),
        ]
        constraints = [
            # Per persona: in a group scene each member that witnessed a turn has its own episode of it.
            models.UniqueConstraint(fields=["message", "persona"], condition=models.Q(layer="episodic"),
                                    name="memory_one_episode_per_message_persona"),
            models.UniqueConstraint(fields=["message"], condition=models.Q(layer="session"),
                                    name="memory_one_session_per_start"),
        ]
        verbose_name_plural = "memories"

    def __str__(self) -> str:
        return f"[{self.kind}] {self.text[:60]}"

    def vector(self) -> np.ndarray | None:
        if not self.embedding:
            return None
        return np.frombuffer(bytes(self.embedding), dtype="<f4")


class RelationshipState(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="relationships")
    persona = models.ForeignKey("personas.Persona", on_delete=models.CASCADE, related_name="relationships")
    stage = models.CharField(max_length=40, default="stranger")
    affinity = models.FloatField(default=0.0)  # -1..1: how warmly the persona feels
    trust = models.FloatField(default=0.0)  # 0..1: how much the user has opened up
    exchanges = models.PositiveIntegerField(default=0)
    # Hysteresis: a stage change needs the condition to hold this many
    # consecutive exchanges, so one warm (or one rude) message never flips it.
    pending_stage = models.CharField(max_length=40, blank=True)
    pending_count = models.PositiveIntegerField(default=0)
    # The newest user message already folded in: a regenerated reply answers
    # the same message again and must not count twice.
    last_user_message_id = models.BigIntegerField(null=True, blank=True)
    first_met_at = models.DateTimeField(null=True, blank=True)
    last_exchange_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "persona"], name="relationship_unique_pair")]

    def __str__(self) -> str:
        return f"{self.user} ↔ {self.persona}: {self.stage}"


class Milestone(models.Model):
    class Kind(models.TextChoices):
        FIRST_MEETING = "first_meeting"
        FIRST_SHARED_EVENT = "first_shared_event"
        ANNIVERSARY = "anniversary"
        CONFLICT = "conflict"
        RECONCILIATION = "reconciliation"
        STAGE_CHANGE = "stage_change"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="milestones")
    persona = models.ForeignKey("personas.Persona", on_delete=models.CASCADE, related_name="milestones")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=200)
    happened_at = models.DateTimeField()
    # CASCADE: a milestone whose message is gone (conversation deleted) goes with it.
    message = models.ForeignKey(
        "chat.Message", null=True, blank=True, on_delete=models.CASCADE, related_name="milestones"
    )
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["happened_at", "pk"]
        indexes = [models.Index(fields=["user", "persona", "happened_at"])]

    def __str__(self) -> str:
        return f"{self.kind}: {self.title}"


class ConversationSummary(models.Model):
    """A rolling summary of the turns seq_from..seq_to (inclusive).

    Each new summary covers everything from the first turn up to seq_to (it
    folds the previous summary in), so the prompt only ever needs the latest.
    """

    conversation = models.ForeignKey("chat.Conversation", on_delete=models.CASCADE, related_name="summaries")
    text = models.TextField()
    seq_from = models.PositiveIntegerField()
    seq_to = models.PositiveIntegerField()
    method = models.CharField(max_length=12, default="extractive")  # "llm" | "extractive"
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-seq_to"]
        verbose_name_plural = "conversation summaries"

    def __str__(self) -> str:
        return f"{self.conversation_id} seq {self.seq_from}-{self.seq_to}"
