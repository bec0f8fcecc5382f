"""The creator's admin: thin; uploads are checked in forms, cards handled by services."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from .admin_lore import PersonaLoreInline
from .cards import CardError
from .forms import CardImportForm, PersonaAdminForm
from .limits import card_import_refusal
from .models import Persona, Visibility
from .services import persona_export_card, persona_import_card


class HasLoraFilter(admin.SimpleListFilter):
    title = "video LoRA"
    parameter_name = "has_lora"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Has a LoRA"), ("no", "No LoRA")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Persona]) -> QuerySet[Persona]:
        if self.value() == "yes":
            return queryset.exclude(video_lora="")
        if self.value() == "no":
            return queryset.filter(video_lora="")
        return queryset


@admin.register(Persona)
class PersonaAdmin(admin.ModelAdmin):
    form = PersonaAdminForm
    change_list_template = "admin/personas/persona/change_list.html"
    list_display = ("thumbnail", "name", "tagline", "visibility", "provenance", "has_lora", "owner", "updated_at")
    list_display_links = ("name",)  # the thumbnail beside it is decorative (one link per row, not two)
    list_filter = ("visibility", "provenance", HasLoraFilter)
    search_fields = ("name", "tagline", "tags")
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    actions = ["export_cards_zip"]
    inlines = [PersonaLoreInline]
    readonly_fields = (
        "portrait_preview", "lora_rank", "lora_targets", "lora_size", "lora_details", "created_at", "updated_at",
    )  # fmt: skip
    fieldsets = (
        ("Identity", {"fields": ("name", "slug", "tagline", "tags", "owner", "visibility")}),
        (
            "Character card",
            {
                "fields": (
                    "description", "personality", "scenario", "greeting", "alternate_greetings", "example_dialogue",
                    "system_prompt", "post_history_instructions", "creator_notes", "creator", "character_version",
                    "character_book", "extensions",
                ),
                "description": "Fields of the Character Card V2/V3 spec; {{char}} and {{user}} work as usual.",
            },
        ),
        ("Appearance", {"fields": ("portrait", "portrait_preview", "appearance", "wardrobe", "style_tags")}),
        ("Voice (LLM)", {"fields": ("temperature", "llm_adapter")}),
        (
            "Video identity (LoRA)",
            {
                "fields": (
                    "video_lora", "video_lora_trigger", "video_lora_weight",
                    "lora_rank", "lora_targets", "lora_size", "lora_details",
                ),
                "description": "Only .safetensors LoRA files are accepted; their header is checked on upload.",
            },
        ),
        (
            "Provenance & consent",
            {
                "fields": ("provenance", "consent_reference", "real_person_name"),
                "description": "Personas are fictional unless a real person's recorded consent is referenced.",
            },
        ),
        ("Timestamps", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    # ---------------------------------------------------------- who sees and edits what

    # Staff see and edit the personas they own; those holding "personas.publish_persona" (and
    # superusers) see every persona and alone may set visibility and owner, so a card one creator
    # imported stays private to them until a publisher makes it public.

    @staticmethod
    def can_publish(request: HttpRequest) -> bool:
        return request.user.has_perm("personas.publish_persona")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Persona]:
        qs = super().get_queryset(request)
        return qs if self.can_publish(request) else qs.filter(owner=request.user)

    def _mine(self, request: HttpRequest, obj: Persona | None) -> bool:
        return obj is None or self.can_publish(request) or obj.owner_id == request.user.pk

    def has_view_permission(self, request: HttpRequest, obj: Persona | None = None) -> bool:
        return super().has_view_permission(request, obj) and self._mine(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Persona | None = None) -> bool:
        return super().has_change_permission(request, obj) and self._mine(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Persona | None = None) -> bool:
        return super().has_delete_permission(request, obj) and self._mine(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Persona | None = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        return fields if self.can_publish(request) else (*fields, "owner", "visibility")

    def save_model(self, request: HttpRequest, obj: Persona, form: Any, change: bool) -> None:
        if not change and not self.can_publish(request):
            obj.owner, obj.visibility = request.user, Visibility.PRIVATE  # theirs, private until published
        super().save_model(request, obj, form, change)

    # ---------------------------------------------------------- columns

    # Portraits go through the site's portrait view (named "persona-portrait"): MEDIA_ROOT is not
    # served, and that view checks who may see the persona (admin users with view permission).
    @admin.display(description="")
    def thumbnail(self, obj: Persona) -> str:
        if not obj.portrait or not obj.slug:
            return "—"
        return format_html(
            '<img class="persona-thumb" src="{}" alt="" width="48" height="48" loading="lazy">',
            reverse("persona-portrait", kwargs={"slug": obj.slug}),
        )

    @admin.display(description="Portrait preview")
    def portrait_preview(self, obj: Persona) -> str:
        if not obj.portrait or not obj.slug:
            return "No portrait yet."
        return format_html(
            '<img class="persona-portrait-preview" src="{}" alt="Portrait of {}" width="256">',
            reverse("persona-portrait", kwargs={"slug": obj.slug}), obj.name,
        )

    @admin.display(boolean=True, description="LoRA", ordering="video_lora")
    def has_lora(self, obj: Persona) -> bool:
        return bool(obj.video_lora)

    @admin.display(description="LoRA rank")
    def lora_rank(self, obj: Persona) -> Any:
        return obj.video_lora_meta.get("rank", "—") if obj.video_lora_meta else "—"

    @admin.display(description="Target modules")
    def lora_targets(self, obj: Persona) -> str:
        return ", ".join((obj.video_lora_meta or {}).get("target_modules", [])) or "—"

    @admin.display(description="LoRA size")
    def lora_size(self, obj: Persona) -> str:
        size = (obj.video_lora_meta or {}).get("size_bytes")
        return filesizeformat(size) if size else "—"

    @admin.display(description="LoRA details")
    def lora_details(self, obj: Persona) -> str:
        meta = obj.video_lora_meta or {}
        if not meta:
            return "—"
        alpha = meta.get("alpha")
        return (
            f"{meta.get('format')} format, {meta.get('dtype')}, {meta.get('num_pairs')} A/B pairs, "
            f"{meta.get('num_tensors')} tensors, alpha {alpha if alpha is not None else 'not set'}"
        )

    # ---------------------------------------------------------- cards

    @admin.action(description="Export selected as character cards (zip of PNGs)")
    def export_cards_zip(self, request: HttpRequest, queryset: QuerySet[Persona]) -> HttpResponse:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for persona in queryset:
                zf.writestr(f"{persona.slug}.png", persona_export_card(persona=persona, fmt="png", version="v3"))
        response = HttpResponse(buf.getvalue(), content_type="application/zip")
        response["Content-Disposition"] = 'attachment; filename="character-cards.zip"'
        return response

    def get_urls(self) -> list[Any]:
        custom = [
            path(
                "import-card/",
                self.admin_site.admin_view(self.import_card_view),
                name="personas_persona_import_card",
            )
        ]
        return custom + super().get_urls()

    def import_card_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = CardImportForm(request.POST or None, request.FILES or None)
        status, refusal = 200, None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["card"]
            refusal = card_import_refusal(request.user)  # CARD_IMPORT_RATE_LIMIT (registered by companion.accounts)
            try:
                if refusal is not None:
                    status = 429
                    raise CardError(refusal[0])
                # Private to the importer; a publisher makes it public after review.
                persona = persona_import_card(data=upload.read(), filename=upload.name, owner=request.user)
            except CardError as exc:
                form.add_error("card", str(exc))
            else:
                self.message_user(request, f"Imported “{persona.name}” from {upload.name}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:personas_persona_change", args=[persona.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Import character card",
            "opts": self.model._meta,
            "form": form,
        }
        response = TemplateResponse(request, "admin/personas/persona/import_card.html", context, status=status)
        if refusal is not None:
            response["Retry-After"] = str(refusal[1])
        return response
