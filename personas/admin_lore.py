"""Lorebooks in the admin: a persona's entries as inline rows on its page, and users' world books."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from .forms import LoreEntryForm
from .models import Lorebook, LoreEntry


class PersonaLoreInline(admin.TabularInline):
    """The persona's own lorebook (the card's ``character_book`` entries), one row per entry."""

    model = LoreEntry
    fk_name = "persona"
    form = LoreEntryForm
    extra = 0
    verbose_name = "lorebook entry"
    verbose_name_plural = "Lorebook entries (keys in the recent chat put the content into the prompt)"

    # Entries are part of the persona: whoever may edit the persona (its admin checks ownership) edits them.
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("personas.view_persona") or request.user.has_perm("personas.change_persona")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("personas.change_persona")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("personas.change_persona") or request.user.has_perm("personas.add_persona")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("personas.change_persona")


class WorldBookEntryInline(admin.TabularInline):
    model = LoreEntry
    fk_name = "book"
    form = LoreEntryForm
    extra = 0
    verbose_name_plural = "Entries"


@admin.register(Lorebook)
class LorebookAdmin(admin.ModelAdmin):
    """World books are their owner's; superusers see them all (e.g. to remove abuse)."""

    list_display = ("name", "owner", "updated_at")
    search_fields = ("name",)
    raw_id_fields = ("owner",)
    inlines = [WorldBookEntryInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Lorebook]:
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.filter(owner=request.user)
