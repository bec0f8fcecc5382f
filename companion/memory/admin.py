"""Admin: memories and relationships for support staff, plus the prompt a reply was built from."""

from __future__ import annotations

from django.contrib import admin

from companion.memory.models import ConversationSummary, Memory, Milestone, RelationshipState


@admin.register(Memory)
class MemoryAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "persona", "kind", "text", "importance", "times_recalled", "created_at"]
    list_filter = ["kind", "edited_by_user"]
    search_fields = ["text", "user__username", "persona__name"]
    raw_id_fields = ["user", "persona", "conversation", "source_messages"]
    readonly_fields = ["created_at", "updated_at", "last_recalled_at", "times_recalled", "slot"]


@admin.register(RelationshipState)
class RelationshipStateAdmin(admin.ModelAdmin):
    list_display = ["user", "persona", "stage", "affinity", "trust", "exchanges", "last_exchange_at"]
    raw_id_fields = ["user", "persona"]


@admin.register(Milestone)
class MilestoneAdmin(admin.ModelAdmin):
    list_display = ["user", "persona", "kind", "title", "happened_at"]
    list_filter = ["kind"]
    raw_id_fields = ["user", "persona", "message"]


@admin.register(ConversationSummary)
class ConversationSummaryAdmin(admin.ModelAdmin):
    list_display = ["conversation", "seq_from", "seq_to", "method", "created_at"]
    raw_id_fields = ["conversation"]
