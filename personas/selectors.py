"""Reads on personas: who may see which persona, and lorebooks in their card shape."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from .lorebook_cards import book_to_card, entry_to_card, world_book_to_card
from .models import Lorebook, Persona, Visibility


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


def persona_lorebook(*, persona: Persona) -> dict[str, Any] | None:
    """The persona's book in the card's ``character_book`` shape (settings plus entry rows), or None."""
    entries = [entry_to_card(e) for e in persona.lore_entries.all()]
    return book_to_card(persona.character_book, entries)


def lorebook_list_for(*, user: Any) -> QuerySet[Lorebook]:
    """The world books ``user`` owns (nobody else's: they are private)."""
    if user is None or not user.is_authenticated:
        return Lorebook.objects.none()
    return Lorebook.objects.filter(owner=user).prefetch_related("entries")


def lorebook_card(*, book: Lorebook) -> dict[str, Any]:
    """A world book in the card's ``character_book`` shape."""
    return world_book_to_card(book, [entry_to_card(e) for e in book.entries.all()])
