"""Admin forms: uploads are validated here so a creator sees a clear form error."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat

from .cards import card_limits
from .lora import LoraValidationError, inspect_lora
from .models import LoreEntry, Persona

CARD_SUFFIXES = (".json", ".png")


def json_object_clean(value: Any) -> dict[str, Any]:
    """An ``extensions`` field's value (persona or lore entry): a JSON object, empty when left blank."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise forms.ValidationError("Enter a JSON object.")
    return value


class StringListField(forms.CharField):
    """A JSON list of strings edited as text: items joined by ``joiner``, split by ``split``."""

    joiner = ", "

    def split(self, text: str) -> list[str]:
        return text.split(",")

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return self.joiner.join(str(v) for v in value)
        return value

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list | tuple):
            return [str(v).strip() for v in value if str(v).strip()]
        text = super().to_python(value) or ""
        return [part.strip() for part in self.split(text) if part.strip()]


class CommaSeparatedListField(StringListField):
    """A JSON list of short strings (tags) edited as "a, b, c"."""


class PersonaAdminForm(forms.ModelForm):
    tags = CommaSeparatedListField(required=False, help_text="Comma separated, e.g. adventure, slow burn.")
    style_tags = CommaSeparatedListField(
        required=False, help_text="Comma separated looks for the renderer, e.g. film grain, soft light."
    )

    class Meta:
        model = Persona
        fields = (
            "name", "slug", "tagline", "tags", "owner", "visibility",
            "description", "personality", "scenario", "greeting", "alternate_greetings", "example_dialogue",
            "system_prompt", "post_history_instructions", "creator_notes", "creator", "character_version",
            "character_book", "extensions",
            "portrait", "appearance", "wardrobe", "style_tags",
            "temperature", "llm_adapter",
            "video_lora", "video_lora_trigger", "video_lora_weight",
            "provenance", "consent_reference", "real_person_name",
        )  # fmt: skip
        widgets = {
            "tagline": forms.TextInput(attrs={"size": 80}),
            "consent_reference": forms.TextInput(attrs={"size": 80}),
        }

    def clean_alternate_greetings(self) -> list[str]:
        value = self.cleaned_data.get("alternate_greetings")
        if value in (None, ""):
            return []
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise forms.ValidationError('Enter a JSON list of strings, e.g. ["Hello!", "Oh, it\'s you."].')
        return value

    def clean_extensions(self) -> dict[str, Any]:
        return json_object_clean(self.cleaned_data.get("extensions"))

    def clean_character_book(self) -> dict[str, Any] | None:
        value = self.cleaned_data.get("character_book")
        if value is not None and not isinstance(value, dict):
            raise forms.ValidationError("A lorebook is a JSON object (the card's character_book).")
        return value

    def clean_portrait(self) -> Any:
        portrait = self.cleaned_data.get("portrait")
        # Django's ImageField has already opened it with Pillow; here we only cap its size
        limit = settings.PORTRAIT_MAX_UPLOAD_BYTES
        if isinstance(portrait, UploadedFile) and portrait.size > limit:
            raise forms.ValidationError(
                f"The portrait is {filesizeformat(portrait.size)}; the limit is {filesizeformat(limit)}.",
                code="too_large",
            )
        return portrait

    def clean_video_lora(self) -> Any:
        lora = self.cleaned_data.get("video_lora")
        if lora is False:  # "Clear" ticked: the metadata goes with the file
            self.instance.video_lora_meta = {}
        elif isinstance(lora, UploadedFile):
            try:
                info = inspect_lora(lora, filename=lora.name or "", size=lora.size)
            except LoraValidationError as exc:
                raise forms.ValidationError(str(exc), code="invalid_lora") from None
            lora.seek(0)
            # video_lora_meta is not a form field, so construct_instance leaves this alone
            self.instance.video_lora_meta = info.as_meta()
        return lora


class CardImportForm(forms.Form):
    card = forms.FileField(
        label="Character card",
        help_text="A Character Card V2/V3 as .json, or a .png with the card embedded (the image becomes the portrait).",
    )

    def clean_card(self) -> UploadedFile:
        card: UploadedFile = self.cleaned_data["card"]
        if not (card.name or "").lower().endswith(CARD_SUFFIXES):
            raise forms.ValidationError("Upload a .json or .png character card.")
        limit = card_limits()[0]
        if card.size > limit:
            raise forms.ValidationError(
                f"The card is {filesizeformat(card.size)}; the limit is {filesizeformat(limit)}."
            )
        return card


class LineListField(StringListField):
    """A JSON list of strings (lorebook keys) edited one per line: keys may hold commas (regexes)."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 24})
    joiner = "\n"

    def split(self, text: str) -> list[str]:
        return text.splitlines()


class LoreEntryForm(forms.ModelForm):
    keys = LineListField(required=False, help_text="One per line; /regex/flags works.")
    secondary_keys = LineListField(required=False, help_text="One per line.")

    class Meta:
        model = LoreEntry
        fields = (
            "keys", "secondary_keys", "content", "enabled", "constant", "selective", "selective_logic",
            "position", "depth", "insertion_order", "priority", "case_sensitive", "whole_words", "use_regex",
            "name", "comment", "extensions",
        )  # fmt: skip
        widgets = {
            "content": forms.Textarea(attrs={"rows": 3, "cols": 40}),
            "comment": forms.Textarea(attrs={"rows": 2, "cols": 16}),
            "extensions": forms.Textarea(attrs={"rows": 2, "cols": 16}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # a tabular inline shows labels only as column headers: name each control for screen readers
        for name, field in self.fields.items():
            field.widget.attrs.setdefault("aria-label", str(field.label or name.replace("_", " ").capitalize()))

    def clean_extensions(self) -> dict[str, Any]:
        return json_object_clean(self.cleaned_data.get("extensions"))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        # only for rows being edited: a card may carry key-less stubs, which must not block saving the persona
        if self.has_changed() and not data.get("constant") and not data.get("keys") and data.get("enabled", True):
            self.add_error("keys", "An entry needs at least one key, or tick Constant.")
        return data
