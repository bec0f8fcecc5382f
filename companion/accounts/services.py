"""Writes of account data: setting a display name.

A display name ends up in prompts (``{{user}}``, "What you remember about …"),
in stop strings and on every user bubble, so it is one short line of visible
text: trimmed, 1-40 characters, no control characters (newlines, NUL, bidi
overrides and other invisible format characters; the emoji joiners ZWJ/ZWNJ
are allowed).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from django.core.exceptions import ValidationError

from companion.accounts.models import DISPLAY_NAME_MAX_CHARS, Profile

_ALLOWED_FORMAT_CHARS = frozenset({"\u200c", "\u200d"})  # ZWNJ, ZWJ: inside emoji and some scripts
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn", "Zl", "Zp"})


def display_name_clean(value: Any) -> str:
    """The display name to store, or ValidationError (code ``empty``, ``too_long`` or ``invalid_characters``)."""
    if not isinstance(value, str):
        raise ValidationError("Enter a display name.", code="empty")
    name = unicodedata.normalize("NFC", value).strip()
    if not name:
        raise ValidationError("Enter a display name.", code="empty")
    if len(name) > DISPLAY_NAME_MAX_CHARS:
        raise ValidationError(f"Display names are limited to {DISPLAY_NAME_MAX_CHARS} characters.", code="too_long")
    for char in name:
        category = unicodedata.category(char)
        if category in _REFUSED_CATEGORIES or (category == "Cf" and char not in _ALLOWED_FORMAT_CHARS):
            raise ValidationError("Display names cannot contain control characters.", code="invalid_characters")
    return name


def profile_set_display_name(*, user: Any, display_name: str) -> Profile:
    """Set (or change) what the user is called; returns the saved profile."""
    name = display_name_clean(display_name)
    profile, _ = Profile.objects.update_or_create(user=user, defaults={"display_name": name})
    user.profile = profile  # later reads of this user instance see the new name
    return profile
