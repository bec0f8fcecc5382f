"""Reads of account data."""

from __future__ import annotations

from typing import Any

from companion.accounts.models import Profile


def profile_get(*, user: Any) -> Profile | None:
    """The user's profile, or None when they never set a display name."""
    if user is None or user.pk is None:
        return None
    try:
        return user.profile  # cached on the instance after the first read
    except Profile.DoesNotExist:
        return None


def user_display_name(user: Any) -> str:
    """What to call the user: their display name; else the first name an admin set; else the username."""
    profile = profile_get(user=user)
    if profile is not None and profile.display_name:
        return profile.display_name
    return (getattr(user, "first_name", "") or "").strip() or user.get_username()
