"""Reads on personas: who may see which persona."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from .models import Persona, Visibility


def persona_list_visible(*, user: Any) -> QuerySet[Persona]:
    """Public personas plus the user's own private ones."""
    visible = Q(visibility=Visibility.PUBLIC)
    if user is not None and user.is_authenticated:
        visible |= Q(owner=user)
    return Persona.objects.filter(visible)


def persona_get_visible(*, user: Any, slug_or_id: str | int) -> Persona:
    """One visible persona by slug or numeric id; Persona.DoesNotExist when absent or not visible."""
    qs = persona_list_visible(user=user)
    key = str(slug_or_id)
    if key.isdigit():
        found = qs.filter(pk=int(key)).first()
        if found is not None:
            return found
    return qs.get(slug=key)
