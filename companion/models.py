"""Models of the ``companion`` app itself (the web layer's own records)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SignupAttestation(models.Model):
    """When a user confirmed at sign-up that they are 18+ and accept the terms.

    Kept apart from the user row so the auth model stays stock; one per user.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attestation")
    attested_at = models.DateTimeField()
    terms_version = models.CharField(max_length=20, default="1")

    def __str__(self) -> str:
        return f"{self.user} attested at {self.attested_at:%Y-%m-%d %H:%M}"
