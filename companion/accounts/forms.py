"""Account forms of the web UI: sign-up (with the 18+ / terms attestation) and the display name."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.db import transaction
from django.utils import timezone

from companion.accounts.models import DISPLAY_NAME_MAX_CHARS, SignupAttestation
from companion.accounts.services import display_name_clean, profile_set_display_name


class DisplayNameField(forms.CharField):
    """A display name, cleaned by the accounts service (trimmed, 1-40 characters, no control characters)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("label", "Display name")
        kwargs.setdefault("help_text", "What your companions call you (up to 40 characters).")
        # strip=False: the service trims, so "too long" is judged on the trimmed name.
        super().__init__(max_length=None, strip=False, **kwargs)
        self.widget.attrs.update({"maxlength": str(DISPLAY_NAME_MAX_CHARS), "autocomplete": "nickname"})

    def clean(self, value):
        value = super().clean(value)
        if not self.required and not (value or "").strip():
            return ""
        return display_name_clean(value)


class SignupForm(UserCreationForm):
    """Stock sign-up plus a required adult-and-terms attestation, recorded with its time."""

    attest = forms.BooleanField(
        required=True,
        label="I am 18 or older and accept the terms of use.",
        error_messages={"required": "You must be 18 or older and accept the terms to sign up."},
    )
    display_name = DisplayNameField(
        required=False,
        help_text="What your companions call you (up to 40 characters). Leave it empty to use your username.",
    )
    field_order = ["username", "display_name", "password1", "password2", "attest"]

    class Meta(UserCreationForm.Meta):
        fields = ("username",)

    @transaction.atomic
    def save(self, commit: bool = True):
        user = super().save(commit=commit)
        if commit:
            SignupAttestation.objects.create(user=user, attested_at=timezone.now())
            if self.cleaned_data.get("display_name"):
                profile_set_display_name(user=user, display_name=self.cleaned_data["display_name"])
        return user


class DisplayNameForm(forms.Form):
    """The account page's display-name form."""

    display_name = DisplayNameField()
