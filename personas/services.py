"""Writes on personas: card import/export, LoRA attachment, demo content."""

from __future__ import annotations

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
from .lora import LoraInfo, inspect_lora
from .models import Persona, Visibility
from .portrait_art import draw_portrait


def persona_import_card(*, data: bytes, filename: str, owner: Any = None, publish: bool = False) -> Persona:
    """Create a persona from a .json or .png card; a PNG becomes its portrait. Raises CardError.

    The persona is private to ``owner`` (the importer) unless ``publish``: making it public is a
    review step (the ``personas.publish_persona`` permission in the admin). The card must fit the
    limits of personas.limits and cards (sizes, pixels, and a prompt that fits the chat budget);
    a PNG portrait is stored downscaled to PORTRAIT_MAX_SIDE and without the card's text chunks.
    """
    parsed = parse_card_file(data, filename)
    fields = card_to_persona_fields(parsed.card)
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
        if portrait is not None:
            persona.portrait.save(f"{persona.slug}.png", ContentFile(portrait), save=True)
    return persona


def persona_export_card(
    *, persona: Persona, fmt: Literal["json", "png"], version: Literal["v2", "v3"] = "v3"
) -> bytes:
    """The persona as a card file. A V3 PNG also carries the V2 card (``chara``) for older tools."""
    if fmt == "json":
        return card_to_json_bytes(persona_to_card(persona, version=version))
    if fmt != "png":
        raise ValueError(f"unknown card format {fmt!r}")
    cards = {"chara": persona_to_card(persona, version="v2")}
    if version == "v3":
        cards["ccv3"] = persona_to_card(persona, version="v3")
    return card_png_bytes(image=_portrait_bytes(persona), cards=cards)


def persona_attach_lora(*, persona: Persona, upload: File) -> LoraInfo:
    """Validate an uploaded LoRA (LoraValidationError if unsafe), store it and its metadata."""
    info = inspect_lora(upload, filename=upload.name or "", size=upload.size)
    upload.seek(0)
    persona.video_lora.save(_base_name(upload.name), upload, save=False)
    persona.video_lora_meta = info.as_meta()
    persona.save()
    return info


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
