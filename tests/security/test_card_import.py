"""Issue 11, item 11 (and the admin part of 13): character card imports are bounded and private until published.

The reported attacks: a 657 KB PNG of 13000x13000 pixels (~650 MB to decode)
was accepted and became a public portrait; an 18.7 MB card made /api/personas/
14 MB for every user and gave a persona whose prompt could never fit.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from personas.cards import CardError
from personas.models import Persona
from personas.services import persona_import_card
from tests.web.factories import make_persona, make_user

pytestmark = pytest.mark.django_db

IMPORT_URL = reverse("admin:personas_persona_import_card")
LIST_URL = reverse("admin:personas_persona_changelist")


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def card(**data) -> dict:
    return {"spec": "chara_card_v2", "spec_version": "2.0",
            "data": {"name": "Ossian Reed", "description": "{{char}} keeps the lighthouse.", **data}}


def card_json(**data) -> bytes:
    return json.dumps(card(**data)).encode()


def card_png(size=(32, 48), **data) -> bytes:
    info = PngInfo()
    info.add_text("chara", base64.b64encode(card_json(**data)).decode())
    out = io.BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def huge_header_png(width: int, height: int) -> bytes:
    """A small file whose header claims a huge image (what the attack sent), with a card in it."""
    text = b"chara\x00" + base64.b64encode(card_json())
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _chunk(b"tEXt", text) + _chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + _chunk(b"IEND", b""))


# --- the service: sizes, pixels, prompt budget, portrait -----------------------------------------------------


def test_a_png_claiming_13000_by_13000_pixels_is_refused_from_its_header():
    data = huge_header_png(13000, 13000)
    assert len(data) < 10_000
    with pytest.raises(CardError, match="megapixels"):
        persona_import_card(data=data, filename="bomb.png")
    assert not Persona.objects.exists()


def test_an_imported_portrait_is_downscaled_and_stripped_of_the_card():
    persona = persona_import_card(data=card_png(size=(2000, 1500), system_prompt="HIDDEN PROMPT"), filename="c.png")
    with Image.open(persona.portrait) as portrait:
        assert portrait.size == (1024, 768)
        assert not portrait.text  # the served portrait no longer carries the card (and its hidden prompt)
    assert b"HIDDEN PROMPT" not in persona.portrait.open("rb").read()


def test_cards_over_the_size_limits_are_refused(settings):
    settings.CARD_MAX_JSON_BYTES = 64 * 1024
    with pytest.raises(CardError, match="limited to"):
        persona_import_card(data=card_json(mes_example="x" * 70_000), filename="big.json")
    settings.CARD_MAX_UPLOAD_BYTES = 1024
    with pytest.raises(CardError, match="limit is"):
        persona_import_card(data=card_png(size=(64, 64)) + b"\x00" * 2048, filename="big.png")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("description", "x" * 12_001, "12,000 characters"),
        ("alternate_greetings", ["hi"] * 21, "20 entries"),
        ("tags", ["t" * 61], "60 characters"),
        ("character_book", {"entries": [{"content": "y" * 300_000}]}, "256 KB"),
    ],
)
def test_field_lengths_are_limited(field, value, message):
    with pytest.raises(CardError, match=message):
        persona_import_card(data=card_json(**{field: value}), filename="c.json")


def test_a_persona_whose_fixed_prompt_cannot_fit_the_budget_is_refused_with_a_clear_message(settings):
    settings.CHAT_PROMPT_TOKEN_BUDGET = 1536
    long_but_allowed = "The lighthouse keeper remembers every storm. " * 250  # ~11 k characters, ~2.8 k tokens
    with pytest.raises(CardError) as refused:
        persona_import_card(data=card_json(description=long_but_allowed), filename="c.json")
    assert "CHAT_PROMPT_TOKEN_BUDGET" in str(refused.value) and "Shorten" in str(refused.value)
    assert persona_import_card(data=card_json(description="Short and sweet."), filename="ok.json").pk


def test_nested_card_json_is_refused_not_a_crash():
    deep = '{"spec": "chara_card_v2", "data": {"name": "N", "extensions": ' + '{"a":' * 5000 + "1" + "}" * 5000 + "}}"
    with pytest.raises(CardError, match="nested too deeply"):
        persona_import_card(data=deep.encode(), filename="deep.json")


# --- private until published; the admin shows staff only what they may edit -----------------------------------


def test_an_imported_persona_is_private_to_its_importer():
    importer, someone = make_user("importer"), make_user("someone")
    persona = persona_import_card(data=card_json(), filename="c.json", owner=importer)
    assert persona.visibility == "private"
    for user, visible in ((importer, True), (someone, False)):
        client = Client()
        client.force_login(user)
        slugs = [p["slug"] for p in client.get("/api/personas/").json()["results"]]
        assert (persona.slug in slugs) is visible
    published = persona_import_card(data=card_json(name="Public One"), filename="p.json", publish=True)
    assert published.visibility == "public"


def _staff(name: str, *perms: str):
    user = make_user(name)
    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="personas", codename__in=perms))
    client = Client()
    client.force_login(user)
    return user, client


CREATOR_PERMS = ("add_persona", "change_persona", "view_persona", "delete_persona")


def test_staff_see_and_edit_only_their_own_personas_unless_they_publish():
    creator, creator_client = _staff("creator", *CREATOR_PERMS)
    _, publisher_client = _staff("publisher", *CREATOR_PERMS, "publish_persona")
    mine = make_persona("Mine", owner=creator, private=True)
    theirs = make_persona("Theirs", owner=make_user("author"), private=True, system_prompt="THEIR SECRET")
    house = make_persona("House")

    listed = creator_client.get(LIST_URL).context["cl"].result_list
    assert list(listed) == [mine]  # before: every persona, private prompts included
    for other in (theirs, house):
        url = reverse("admin:personas_persona_change", args=[other.pk])
        response = creator_client.get(url)
        assert response.status_code in (302, 403, 404), response.status_code
        assert "THEIR SECRET" not in response.content.decode()
    assert set(publisher_client.get(LIST_URL).context["cl"].result_list) == {mine, theirs, house}


NO_LORE_ROWS = {"lore_entries-TOTAL_FORMS": "0", "lore_entries-INITIAL_FORMS": "0"}  # the lorebook inline


def test_only_publishers_can_make_a_persona_public():
    creator, creator_client = _staff("creator", *CREATOR_PERMS)
    mine = persona_import_card(data=card_json(), filename="c.json", owner=creator)
    change = reverse("admin:personas_persona_change", args=[mine.pk])
    page = creator_client.get(change).content.decode()
    assert 'name="visibility"' not in page and 'name="owner"' not in page  # read-only for them
    form = {"name": mine.name, "tags": "", "style_tags": "", "alternate_greetings": "[]", "extensions": "{}",
            "character_book": "", "temperature": "0.8", "video_lora_weight": "1.0", "provenance": "fictional",
            "visibility": "public", "owner": "", "_save": "Save", **NO_LORE_ROWS}
    creator_client.post(change, form)
    mine.refresh_from_db()
    assert mine.visibility == "private" and mine.owner == creator

    _, publisher_client = _staff("publisher", *CREATOR_PERMS, "publish_persona")
    response = publisher_client.post(change, {**form, "owner": str(creator.pk)})
    assert response.status_code == 302, response.content.decode()[:2000]
    mine.refresh_from_db()
    assert mine.visibility == "public"


def test_a_creator_adding_a_persona_gets_a_private_one_of_their_own():
    creator, creator_client = _staff("creator", *CREATOR_PERMS)
    form = {"name": "Fresh", "tags": "", "style_tags": "", "alternate_greetings": "[]", "extensions": "{}",
            "character_book": "", "temperature": "0.8", "video_lora_weight": "1.0", "provenance": "fictional",
            "_save": "Save", **NO_LORE_ROWS}
    assert creator_client.post(reverse("admin:personas_persona_add"), form).status_code == 302
    fresh = Persona.objects.get(name="Fresh")
    assert fresh.owner == creator and fresh.visibility == "private"


def test_card_imports_in_the_admin_are_rate_limited(settings):
    settings.CARD_IMPORT_RATE_LIMIT = "2/h"
    _, client = _staff("creator", *CREATOR_PERMS)
    codes = [
        client.post(IMPORT_URL, {"card": SimpleUploadedFile(f"c{i}.json", card_json(name=f"Card {i}"))}).status_code
        for i in range(3)
    ]
    assert codes == [302, 302, 429]
    assert Persona.objects.count() == 2


def test_the_admin_import_shows_a_refused_card_as_a_form_error():
    _, client = _staff("creator", *CREATOR_PERMS)
    response = client.post(IMPORT_URL, {"card": SimpleUploadedFile("bomb.png", huge_header_png(13000, 13000))})
    assert response.status_code == 200 and "megapixels" in response.content.decode()
    assert not Persona.objects.exists()
