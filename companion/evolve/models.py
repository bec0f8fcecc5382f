"""The link between a render job and the chat it came from.

``rendering`` never knows what a chat is: a ``RenderJob`` carries only a
free-form ``source`` label for people (admin search, the refusal log). Which
message a clip evolves, and which conversation a clip or reel belongs to, is
stored here, written in the same transaction that creates the job (see
``services.evolve_commit`` / ``reel_create``), so every reader is a plain join.
"""

from __future__ import annotations

from django.db import models

from companion.chat.models import Conversation, Message


class Clip(models.Model):
    """A render job made from a chat: the clip of one persona message, or (``message`` empty) a reel."""

    # "chat_clip": RenderJob already has a ``clip`` file field.
    job = models.OneToOneField(
        "rendering.RenderJob", on_delete=models.CASCADE, primary_key=True, related_name="chat_clip"
    )
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="clips")
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="clips",
        help_text="The persona message this clip evolves (empty for a reel).",
    )

    def __str__(self) -> str:
        return f"clip {self.job_id} of message {self.message_id} (conversation {self.conversation_id})"
