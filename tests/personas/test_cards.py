"""Character cards: round trips lose nothing, bad cards get a clear CardError."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from personas.cards import CardError
from personas.models import Persona
from personas.selectors import persona_lorebook
from personas.services import persona_export_card, persona_import_card

from .conftest import LOREBOOK, b64json, png_bytes, v2_card, v3_card

pytestmark = pytest.mark.django_db


def chunks_of(png: bytes) -> dict[str, dict]:
    with Image.open(io.BytesIO(png)) as im:
        return {k: json.loads(base64.b64decode(v)) for k, v in im.text.items()}


def without_app_extension(card: dict) -> dict:
    card = json.loads(json.dumps(card))
    card["data"]["extensions"].pop("companion")
    return card


def test_v2_json_import_maps_fields():
    persona = persona_import_card(data=json.dumps(v2_card()).encode(), filename="ossian.json")
    assert persona.name == "Ossian Reed"
    assert persona.greeting == "*He offers a hand.* Mind the gap."
    assert persona.example_dialogue.startswith("<START>")
    assert persona.alternate_greetings == ["Fog again.", "You're late."]
    assert persona.tags == ["fantasy", "ferry"]
    assert persona_lorebook(persona=persona) == LOREBOOK  # entries are rows now (test_lorebook_cards.py)
    assert persona.extensions["card_extensions"]["depth_prompt"] == {"prompt": "Be gentle.", "depth": 4}
    assert persona.extensions["card_data_extra"] == {"x_custom_field": {"nested": [1, 2, 3]}}
    assert persona.extensions["card_top_extra"] == {"x_top_level": "kept"}
    assert persona.provenance == "fictional" and not persona.portrait


def test_v2_json_round_trip_gives_the_same_card_back():
    original = v2_card()
    persona = persona_import_card(data=json.dumps(original).encode(), filename="ossian.json")
    exported = json.loads(persona_export_card(persona=persona, fmt="json", version="v2"))
    assert without_app_extension(exported) == original
    again = persona_import_card(data=json.dumps(exported).encode(), filename="again.json")
    assert json.loads(persona_export_card(persona=again, fmt="json", version="v2")) == exported


def test_our_fields_travel_in_the_companion_extension():
    persona = Persona.objects.create(
        name="Ines", tagline="A tagline", appearance="tall, adult", wardrobe="green coat",
        style_tags=["film grain"], temperature=0.55, video_lora_trigger="ines_v1",
    )  # fmt: skip
    card = json.loads(persona_export_card(persona=persona, fmt="json", version="v3"))
    assert card["spec"] == "chara_card_v3" and card["spec_version"] == "3.0"
    assert card["data"]["group_only_greetings"] == []
    assert card["data"]["extensions"]["companion"]["appearance"] == "tall, adult"
    again = persona_import_card(data=json.dumps(card).encode(), filename="ines.json")
    for field in ("tagline", "appearance", "wardrobe", "style_tags", "temperature", "video_lora_trigger"):
        assert getattr(again, field) == getattr(persona, field)
    assert again.slug != persona.slug  # a second import is a new persona


def test_v2_png_import_uses_image_as_portrait_and_exports_back():
    image = png_bytes(chara=b64json(v2_card()))
    persona = persona_import_card(data=image, filename="ossian.png")
    with Image.open(persona.portrait) as portrait:  # the same picture, without the card's text chunks
        assert portrait.size == (32, 48) and portrait.getpixel((0, 0)) == (200, 80, 40) and not portrait.text
    exported = persona_export_card(persona=persona, fmt="png", version="v2")
    chunks = chunks_of(exported)
    assert set(chunks) == {"chara"}
    assert without_app_extension(chunks["chara"]) == v2_card()
    with Image.open(io.BytesIO(exported)) as im:
        assert im.size == (32, 48) and im.getpixel((0, 0)) == (200, 80, 40)


def test_v3_png_prefers_ccv3_over_chara():
    image = png_bytes(chara=b64json(v2_card(name="Old Name")), ccv3=b64json(v3_card(name="New Name")))
    persona = persona_import_card(data=image, filename="card.png")
    assert persona.name == "New Name"
    assert persona.extensions["card_data_extra"]["nickname"] == "Oss"


def test_v3_png_export_writes_both_chunks_and_round_trips():
    original = v3_card()
    persona = persona_import_card(data=png_bytes(ccv3=b64json(original)), filename="card.png")
    exported = persona_export_card(persona=persona, fmt="png", version="v3")
    chunks = chunks_of(exported)
    assert chunks["ccv3"]["spec"] == "chara_card_v3" and chunks["chara"]["spec"] == "chara_card_v2"
    assert without_app_extension(chunks["ccv3"]) == original
    again = persona_import_card(data=exported, filename="again.png")
    assert persona_lorebook(persona=again) == LOREBOOK
    assert again.extensions == persona.extensions
    assert chunks_of(persona_export_card(persona=again, fmt="png", version="v3"))["ccv3"] == chunks["ccv3"]


def test_png_export_without_portrait_draws_one():
    persona = Persona.objects.create(name="No Picture")
    with Image.open(io.BytesIO(persona_export_card(persona=persona, fmt="png"))) as im:
        assert im.format == "PNG" and im.size == (512, 512)


def test_v1_flat_card_is_accepted():
    card = {"name": "Flat", "description": "old style", "first_mes": "hi", "chat": "x"}
    persona = persona_import_card(data=json.dumps(card).encode(), filename="flat.json")
    assert (persona.name, persona.greeting) == ("Flat", "hi")
    assert persona.extensions["card_top_extra"] == {"chat": "x"}


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (png_bytes(chara="%%%not base64%%%"), "c.png", "The 'chara' chunk of the PNG is not valid base64"),
        (png_bytes(ccv3=base64.b64encode(b"{nope").decode()), "c.png", r"The 'ccv3' chunk is not valid JSON"),
        (b'{"spec": "chara_card_v2", "data": {"name": "x",}', "c.json", r"not valid JSON \(.* at line 1"),
        (json.dumps({"spec": "chara_card_v2", "data": {"description": "no name"}}).encode(), "c.json",
         r"missing required field\(s\): data\.name"),
        (json.dumps({"spec": "chara_card_v2"}).encode(), "c.json", r"missing required field\(s\): data"),
        (json.dumps({"data": {"name": "x"}}).encode(), "c.json", r"missing required field\(s\): spec"),
        (json.dumps(v2_card(tags="not-a-list")).encode(), "c.json", r"Invalid card field data\.tags"),
        (json.dumps({"spec": "chara_card_v9", "data": {"name": "x"}}).encode(), "c.json", "Unsupported card spec"),
        (b"GIF89a not a png at all", "c.png", "not a PNG image"),
        (png_bytes(), "c.png", "no character card in it"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "c.png", "PNG image is corrupt"),
        (b"plain text", "c.txt", "Unsupported card file"),
        (json.dumps([1, 2]).encode(), "c.json", "must be a JSON object"),
        (json.dumps(v2_card(name="x" * 500)).encode(), "c.json", "does not fit a persona.*name"),
    ],
    ids=[
        "bad-base64", "bad-json-in-chunk", "bad-json", "no-name", "no-data", "no-spec", "wrong-type",
        "unknown-spec", "not-png", "png-without-card", "corrupt-png", "unknown-file", "json-array", "name-too-long",
    ],
)
def test_bad_cards_are_refused_with_a_clear_message(data, filename, message):
    with pytest.raises(CardError, match=message):
        persona_import_card(data=data, filename=filename)
    assert not Persona.objects.exists()


def test_consent_claim_without_reference_is_refused():
    card = v2_card(extensions={"companion": {"provenance": "consented", "consent_reference": " "}})
    with pytest.raises(CardError, match="consent_reference"):
        persona_import_card(data=json.dumps(card).encode(), filename="c.json")


def test_html_in_fields_is_stored_as_inert_text():
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    card = v2_card(name="Evil <b>Name</b>", description=payload)
    persona = persona_import_card(data=json.dumps(card).encode(), filename="c.json")
    persona.refresh_from_db()
    assert persona.description == payload
    assert persona.name == "Evil <b>Name</b>"
