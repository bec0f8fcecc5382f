"""Character Card V2/V3: parse, validate, and convert to and from Persona fields.

Specs: https://github.com/malfoyslastname/character-card-spec-v2 and
https://github.com/kwaroran/character-card-spec-v3. A card is JSON
``{"spec": ..., "spec_version": ..., "data": {...}}``; in a PNG it sits base64
encoded in a ``chara`` (V2) or ``ccv3`` (V3) tEXt chunk.

Nothing is lost on a round trip: fields we have no column for go into
``Persona.extensions`` (see EXT_* keys) and come back out on export; the
lorebook (``character_book``) is kept verbatim. Our own fields (tagline,
appearance, ...) travel in ``data.extensions["companion"]``, the place the spec
reserves for application data. Text is stored as given and never interpreted:
templates escape it when shown.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .card_png import PngCardError, is_png, read_text_chunks, write_png
from .jsonlimits import JSONTooDeep, loads_limited

SPEC_V2, SPEC_V3 = "chara_card_v2", "chara_card_v3"
EXT_CARD_EXTENSIONS = "card_extensions"  # data.extensions from the card, minus our own key
EXT_DATA_EXTRA = "card_data_extra"  # data-level fields with no Persona column (V3 assets, nickname, ...)
EXT_TOP_EXTRA = "card_top_extra"  # unknown top-level fields
APP_KEY = "companion"  # our key inside data.extensions

# card data field -> Persona field
CARD_TO_PERSONA = {
    "name": "name",
    "description": "description",
    "personality": "personality",
    "scenario": "scenario",
    "first_mes": "greeting",
    "mes_example": "example_dialogue",
    "creator_notes": "creator_notes",
    "system_prompt": "system_prompt",
    "post_history_instructions": "post_history_instructions",
    "alternate_greetings": "alternate_greetings",
    "tags": "tags",
    "creator": "creator",
    "character_version": "character_version",
    "character_book": "character_book",
}
# Persona fields carried in data.extensions["companion"]
APP_FIELDS = (
    "tagline", "appearance", "wardrobe", "style_tags", "temperature", "llm_adapter",
    "video_lora_trigger", "video_lora_weight", "provenance", "consent_reference", "real_person_name",
)  # fmt: skip
# V1 cards are flat; V2 writers often mirror these at top level for old readers
V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")


def card_limits() -> tuple[int, int, int]:
    """(file bytes, card JSON bytes, PNG pixels) from CARD_MAX_UPLOAD_BYTES, CARD_MAX_JSON_BYTES, CARD_MAX_PIXELS."""
    return (
        settings.CARD_MAX_UPLOAD_BYTES,  # the whole file: a PNG portrait plus its card
        settings.CARD_MAX_JSON_BYTES,  # the card itself (JSON, or decoded from the PNG chunk)
        settings.CARD_MAX_PIXELS,  # the PNG, judged from its header before decoding
    )


class CardError(ValueError):
    """The card cannot be read; the message says what is wrong with it."""


class CardData(BaseModel):
    # extra="allow": unknown fields are kept (model_extra) rather than dropped
    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)
    description: str = ""
    personality: str = ""
    scenario: str = ""
    first_mes: str = ""
    mes_example: str = ""
    creator_notes: str = ""
    system_prompt: str = ""
    post_history_instructions: str = ""
    alternate_greetings: list[str] = Field(default_factory=list)
    character_book: dict[str, Any] | None = None
    tags: list[str] = Field(default_factory=list)
    creator: str = ""
    character_version: str = ""
    extensions: dict[str, Any] = Field(default_factory=dict)

    @field_validator(
        "description", "personality", "scenario", "first_mes", "mes_example", "creator_notes", "system_prompt",
        "post_history_instructions", "creator", "character_version", mode="before",
    )  # fmt: skip
    @classmethod
    def _null_is_empty(cls, v: Any) -> Any:
        return "" if v is None else v

    @field_validator("alternate_greetings", "tags", "extensions", mode="before")
    @classmethod
    def _null_is_empty_container(cls, v: Any, info: Any) -> Any:
        if v is None:
            return {} if info.field_name == "extensions" else []
        return v


class Card(BaseModel):
    model_config = ConfigDict(extra="allow")

    spec: Literal["chara_card_v2", "chara_card_v3"]
    spec_version: str = ""
    data: CardData


class AppExtension(BaseModel):
    """Our own fields inside data.extensions["companion"]; unknown keys are kept."""

    model_config = ConfigDict(extra="allow")

    tagline: str | None = None
    appearance: str | None = None
    wardrobe: str | None = None
    style_tags: list[str] | None = None
    temperature: float | None = None
    llm_adapter: str | None = None
    video_lora_trigger: str | None = None
    video_lora_weight: float | None = None
    provenance: Literal["fictional", "consented"] | None = None
    consent_reference: str | None = None
    real_person_name: str | None = None


@dataclass(frozen=True)
class ParsedCard:
    card: Card
    image: bytes | None  # the PNG a card came in: it is the portrait


# ---------------------------------------------------------------- parsing


def parse_card_file(data: bytes, filename: str = "") -> ParsedCard:
    """Read a .json or .png card; raises CardError with a specific message."""
    max_file, _, _ = card_limits()
    if len(data) > max_file:
        raise CardError(f"The card file is {_mb(len(data))}; the limit is {_mb(max_file)}.")
    name = filename.lower()
    if name.endswith(".png"):
        return _parse_png(data)
    if name.endswith(".json"):
        return ParsedCard(card=parse_card_json(data), image=None)
    if is_png(data):
        return _parse_png(data)
    if data.lstrip()[:1] == b"{":
        return ParsedCard(card=parse_card_json(data), image=None)
    raise CardError("Unsupported card file: expected a .json card or a .png image with a card in it.")


def parse_card_json(data: bytes | str, *, source: str = "card") -> Card:
    _, max_json, _ = card_limits()
    size = len(data.encode() if isinstance(data, str) else data)
    if size > max_json:
        raise CardError(f"The {source} is {_mb(size)} of JSON; cards are limited to {_mb(max_json)}.")
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
        obj = loads_limited(text)
    except UnicodeDecodeError:
        raise CardError(f"The {source} is not UTF-8 text.") from None
    except JSONTooDeep:
        raise CardError(f"The {source} is nested too deeply to be a character card.") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise CardError(f"The {source} is not valid JSON ({exc.msg} at {where}).") from None
    if not isinstance(obj, dict):
        raise CardError(f"The {source} must be a JSON object.")
    return validate_card(obj)


def validate_card(obj: dict[str, Any]) -> Card:
    if "spec" not in obj and "data" not in obj and "name" in obj:
        obj = _upgrade_v1(obj)
    spec = obj.get("spec")
    if spec is not None and spec not in (SPEC_V2, SPEC_V3):
        raise CardError(f"Unsupported card spec {spec!r}: expected {SPEC_V2!r} or {SPEC_V3!r}.")
    try:
        return Card.model_validate(obj)
    except ValidationError as exc:
        missing = [_loc(e["loc"]) for e in exc.errors() if e["type"] == "missing"]
        if missing:
            raise CardError(f"The card is missing required field(s): {', '.join(missing)}.") from None
        first = exc.errors()[0]
        raise CardError(f"Invalid card field {_loc(first['loc'])}: {first['msg']}.") from None


def _parse_png(data: bytes) -> ParsedCard:
    _, _, max_pixels = card_limits()
    try:
        chunks = read_text_chunks(data, max_pixels=max_pixels)
    except PngCardError as exc:
        raise CardError(str(exc)) from None
    # V3 readers prefer ccv3; chara is the V2 copy kept for older tools
    for key in ("ccv3", "chara"):
        if key in chunks:
            raw = "".join(chunks[key].split())
            try:
                decoded = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise CardError(f"The '{key}' chunk of the PNG is not valid base64.") from None
            return ParsedCard(card=parse_card_json(decoded, source=f"'{key}' chunk"), image=data)
    raise CardError("This PNG has no character card in it (no 'ccv3' or 'chara' text chunk).")


def _upgrade_v1(obj: dict[str, Any]) -> dict[str, Any]:
    data = {k: obj[k] for k in V1_FIELDS if k in obj}
    extra = {k: v for k, v in obj.items() if k not in V1_FIELDS}
    return {"spec": SPEC_V2, "spec_version": "2.0", "data": data, **extra}


def _mb(size: int) -> str:
    return f"{size / 1024**2:.1f} MB"


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


# ------------------------------------------------------- card <-> persona


def card_to_persona_fields(card: Card) -> dict[str, Any]:
    """Persona field values for a card, with everything unmapped under extensions."""
    data = card.data
    fields: dict[str, Any] = {pf: getattr(data, cf) for cf, pf in CARD_TO_PERSONA.items()}
    card_ext = dict(data.extensions)
    app_raw = card_ext.pop(APP_KEY, None)
    if app_raw is not None:
        if not isinstance(app_raw, dict):
            raise CardError(f"Invalid card field data.extensions.{APP_KEY}: expected an object.")
        try:
            app = AppExtension.model_validate(app_raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = f"data.extensions.{APP_KEY}.{_loc(first['loc'])}"
            raise CardError(f"Invalid card field {where}: {first['msg']}.") from None
        fields.update({k: v for k, v in app.model_dump(include=set(APP_FIELDS)).items() if v is not None})
        if app.model_extra:  # keys from a newer version of us: keep them
            card_ext[APP_KEY] = dict(app.model_extra)
    top_extra = {k: v for k, v in (card.model_extra or {}).items() if k not in V1_FIELDS}
    fields["extensions"] = {
        EXT_CARD_EXTENSIONS: card_ext,
        EXT_DATA_EXTRA: dict(data.model_extra or {}),
        EXT_TOP_EXTRA: top_extra,
    }
    return fields


def persona_to_card(persona: Any, *, version: Literal["v2", "v3"]) -> dict[str, Any]:
    """The card dict for a persona (any object with Persona's attributes)."""
    ext = persona.extensions if isinstance(persona.extensions, dict) else {}
    card_ext = dict(ext.get(EXT_CARD_EXTENSIONS) or {})
    app = {**(card_ext.get(APP_KEY) or {}), **{k: getattr(persona, k) for k in APP_FIELDS}}
    card_ext[APP_KEY] = app
    data: dict[str, Any] = {cf: getattr(persona, pf) for cf, pf in CARD_TO_PERSONA.items()}
    data.update(ext.get(EXT_DATA_EXTRA) or {})
    data["extensions"] = card_ext
    if version == "v3":
        data.setdefault("group_only_greetings", [])  # required by V3
    spec, spec_version = (SPEC_V3, "3.0") if version == "v3" else (SPEC_V2, "2.0")
    top = dict(ext.get(EXT_TOP_EXTRA) or {})
    return {**top, "spec": spec, "spec_version": spec_version, "data": data}


def card_to_json_bytes(card: dict[str, Any]) -> bytes:
    return json.dumps(card, ensure_ascii=False, indent=2).encode("utf-8")


def card_png_bytes(*, image: bytes, cards: dict[str, dict[str, Any]]) -> bytes:
    """A PNG carrying each card base64-encoded under its chunk key ('chara' and/or 'ccv3')."""
    text = {key: base64.b64encode(json.dumps(card, ensure_ascii=False).encode("utf-8")).decode("ascii")
            for key, card in cards.items()}  # fmt: skip
    try:
        return write_png(image, text)
    except PngCardError as exc:
        raise CardError(str(exc)) from None
