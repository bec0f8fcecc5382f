"""A user's profile: the display name personas and the chat page call them by.

Kept apart from the auth user so that model stays stock. One per user, created
when a name is first set; a user without one is called by their username
(``selectors.user_display_name``). Deleted with the user (CASCADE).
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
