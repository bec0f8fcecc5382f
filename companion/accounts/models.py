"""Account records kept apart from the auth user, so that model stays stock.

``Profile``: the display name personas and the chat page call a user by. One per
user, created when a name is first set; a user without one is called by their
username (``selectors.user_display_name``). ``SignupAttestation``: when the user
confirmed at sign-up that they are 18+ and accept the terms. Both are deleted
with the user (CASCADE).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

DISPLAY_NAME_MAX_CHARS = 40


class Profile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    # Cleaned by services.display_name_clean: trimmed, 1-40 characters, no control characters.
    display_name = models.CharField(max_length=DISPLAY_NAME_MAX_CHARS)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(display_name=""), name="accounts_profile_display_name_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.user})"


class SignupAttestation(models.Model):
    """When a user confirmed at sign-up that they are 18+ and accept the terms; one per user."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attestation")
    attested_at = models.DateTimeField()
    terms_version = models.CharField(max_length=20, default="1")

    class Meta:
        # The table the model had in the former ``companion`` app: migration 0002 adopts it, rows and all.
        db_table = "companion_signupattestation"

    def __str__(self) -> str:
        return f"{self.user} attested at {self.attested_at:%Y-%m-%d %H:%M}"
