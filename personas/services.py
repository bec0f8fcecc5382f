"""Writes on personas: card import/export, LoRA attachment, demo content."""

from __future__ import annotations

import json
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.files.base import ContentFile, File
from django.db import transaction

from .card_png import PngCardError, portrait_png
from .cards import (
    CardError,
    card_png_bytes,
    card_to_json_bytes,
    card_to_persona_fields,
    parse_card_file,
    persona_to_card,
)
from .limits import JSON_LIMITS
from .lora import LoraInfo, inspect_lora
from .lorebook_cards import book_settings, entry_rows_from_card, world_book_columns
from .models import Lorebook, LoreEntry, Persona, Visibility
from .portrait_art import draw_portrait
from .selectors import persona_lorebook


def persona_import_card(*, data: bytes, filename: str, owner: Any = None, publish: bool = False) -> Persona:
    """Create a persona from a .json or .png card; a PNG becomes its portrait. Raises CardError.

    The persona is private to ``owner`` (the importer) unless ``publish``: making it public is a
    review step (the ``personas.publish_persona`` permission in the admin). The card must fit the
    limits of personas.limits and cards (sizes, pixels, and a prompt that fits the chat budget);
    a PNG portrait is stored downscaled to PORTRAIT_MAX_SIDE and without the card's text chunks.
    """
    parsed = parse_card_file(data, filename)
    fields = card_to_persona_fields(parsed.card)
    book = fields["character_book"]
    _check_book_size(book)
    fields["character_book"] = book_settings(book)  # the entries become rows (personas.lorebook_cards)
    visibility = Visibility.PUBLIC if publish else Visibility.PRIVATE
    persona = Persona(**fields, owner=owner, visibility=visibility)
    try:
        persona.full_clean(exclude=["slug", "portrait", "video_lora"])
    except ValidationError as exc:
        problems = "; ".join(
            f"{k}: {' '.join(v)}" if k != NON_FIELD_ERRORS else " ".join(v) for k, v in exc.message_dict.items()
        )
        raise CardError(f"The card does not fit a persona ({problems}).") from None
    portrait = None
    if parsed.image is not None:
        try:
            portrait = portrait_png(parsed.image, max_side=settings.PORTRAIT_MAX_SIDE)
        except PngCardError as exc:
            raise CardError(str(exc)) from None
    with transaction.atomic():
        persona.save()
        LoreEntry.objects.bulk_create(LoreEntry(persona=persona, **row) for row in entry_rows_from_card(book))
        if portrait is not None:
            persona.portrait.save(f"{persona.slug}.png", ContentFile(portrait), save=True)
    return persona


def persona_export_card(
    *, persona: Persona, fmt: Literal["json", "png"], version: Literal["v2", "v3"] = "v3"
) -> bytes:
    """The persona as a card file. A V3 PNG also carries the V2 card (``chara``) for older tools."""
    book = persona_lorebook(persona=persona)  # Persona.character_book holds the settings; entries are rows

    def card(spec: Literal["v2", "v3"]) -> dict[str, Any]:
        out = persona_to_card(persona, version=spec)
        out["data"]["character_book"] = book
        return out

    if fmt == "json":
        return card_to_json_bytes(card(version))
    if fmt != "png":
        raise ValueError(f"unknown card format {fmt!r}")
    cards = {"chara": card("v2")}
    if version == "v3":
        cards["ccv3"] = card("v3")
    return card_png_bytes(image=_portrait_bytes(persona), cards=cards)


def persona_attach_lora(*, persona: Persona, upload: File) -> LoraInfo:
    """Validate an uploaded LoRA (LoraValidationError if unsafe), store it and its metadata."""
    info = inspect_lora(upload, filename=upload.name or "", size=upload.size)
    upload.seek(0)
    persona.video_lora.save(_base_name(upload.name), upload, save=False)
    persona.video_lora_meta = info.as_meta()
    persona.save()
    return info


def _check_book_size(book: Any) -> None:
    if book is None:
        return
    size, limit = len(json.dumps(book, ensure_ascii=False).encode()), JSON_LIMITS["character_book"]
    if size > limit:
        raise CardError(
            f"The card does not fit a persona (character_book: At most {limit // 1024} KB of JSON "
            f"(this is {size // 1024} KB))."
        )


# --- world books ---------------------------------------------------------------------------------


def lorebook_create(*, owner: Any, book: dict[str, Any]) -> Lorebook:
    """A world book for ``owner`` from a ``character_book``-shaped dict (entries included)."""
    _check_book_size(book)
    with transaction.atomic():
        created = Lorebook.objects.create(owner=owner, **world_book_columns(book))
        LoreEntry.objects.bulk_create(LoreEntry(book=created, **row) for row in entry_rows_from_card(book))
    return created


def lorebook_delete(*, book: Lorebook) -> None:
    book.delete()


def _portrait_bytes(persona: Persona) -> bytes:
    if persona.portrait:
        try:
            with persona.portrait.open("rb") as fh:
                return fh.read()
        except (FileNotFoundError, OSError):
            pass  # file gone from storage: fall back to a drawn one
    return draw_portrait(persona.slug or persona.name)


def _base_name(name: str | None) -> str:
    return (name or "lora.safetensors").replace("\\", "/").rsplit("/", 1)[-1]
