"""Forms of the web UI."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.db import transaction
from django.utils import timezone

from companion.models import SignupAttestation


class SignupForm(UserCreationForm):
    """Stock sign-up plus a required adult-and-terms attestation, recorded with its time."""

    attest = forms.BooleanField(
        required=True,
        label="I am 18 or older and accept the terms of use.",
        error_messages={"required": "You must be 18 or older and accept the terms to sign up."},
    )

    class Meta(UserCreationForm.Meta):
        fields = ("username",)

    @transaction.atomic
    def save(self, commit: bool = True):
        user = super().save(commit=commit)
        if commit:
            SignupAttestation.objects.create(user=user, attested_at=timezone.now())
        return user
