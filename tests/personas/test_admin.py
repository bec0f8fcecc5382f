"""The admin through its real forms: create/edit with uploads, errors, import view, export action."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from personas.models import Persona
from personas.services import persona_import_card

from .conftest import b64json, png_bytes, v2_card

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:personas_persona_add")
LIST_URL = reverse("admin:personas_persona_changelist")
IMPORT_URL = reverse("admin:personas_persona_import_card")


def form_data(**overrides):
    """What the add form posts when a creator fills in the basics."""
    data = {
        "name": "Juniper Ash",
        "slug": "",
        "tagline": "Botanist of the night garden",
        "tags": "botany, mystery",
        "owner": "",
        "visibility": "public",
        "description": "{{char}} tends moonflowers.",
        "alternate_greetings": '["Hello there."]',
        "character_book": "",
        "extensions": "{}",
        "appearance": "adult woman, silver braid",
        "wardrobe": "",
        "style_tags": "soft light, film grain",
        "temperature": "0.7",
        "llm_adapter": "",
        "video_lora_trigger": "juniper_v1",
        "video_lora_weight": "0.9",
        "provenance": "fictional",
        "consent_reference": "",
        "real_person_name": "",
        "lore_entries-TOTAL_FORMS": "0",  # the lorebook inline's management form
        "lore_entries-INITIAL_FORMS": "0",
        "_save": "Save",
    }
    data.update(overrides)
    return data


def portrait_upload(name="portrait.png"):
    return SimpleUploadedFile(name, png_bytes((64, 64)), content_type="image/png")


@pytest.mark.parametrize("url", [LIST_URL, ADD_URL, IMPORT_URL])
def test_non_staff_is_sent_to_admin_login(client, django_user_model, url):
    client.force_login(django_user_model.objects.create_user("plain", password="pw-plain-1"))
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert client.post(ADD_URL, form_data()).status_code == 302
    assert not Persona.objects.exists()


def test_anonymous_is_sent_to_admin_login(client):
    response = client.get(LIST_URL)
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


def test_staff_creates_and_edits_persona_with_portrait_and_lora(staff_client, peft_lora_bytes):
    page = staff_client.get(ADD_URL)
    assert page.status_code == 200
    for legend in ("Identity", "Character card", "Appearance", "Voice (LLM)", "Video identity (LoRA)",
                   "Provenance &amp; consent"):  # fmt: skip
        assert legend in page.content.decode()

    response = staff_client.post(
        ADD_URL,
        form_data(portrait=portrait_upload(), video_lora=SimpleUploadedFile("juniper.safetensors", peft_lora_bytes)),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    persona = Persona.objects.get()
    assert persona.slug == "juniper-ash"
    assert persona.tags == ["botany", "mystery"] and persona.style_tags == ["soft light", "film grain"]
    assert persona.alternate_greetings == ["Hello there."]
    assert persona.portrait.name.startswith("personas/portraits/")
    assert persona.video_lora.read() == peft_lora_bytes
    assert persona.video_lora_meta["rank"] == 4

    change_url = reverse("admin:personas_persona_change", args=[persona.pk])
    html = staff_client.get(change_url).content.decode()
    assert "q_proj, v_proj" in html  # readonly target modules from the header
    assert "botany, mystery" in html  # tags edited as comma text

    # edit: change text only; the stored files and LoRA metadata stay
    response = staff_client.post(change_url, form_data(name="Juniper Ash", tagline="Keeper of moonflowers"))
    assert response.status_code == 302
    persona.refresh_from_db()
    assert persona.tagline == "Keeper of moonflowers"
    assert persona.video_lora and persona.video_lora_meta["target_modules"] == ["q_proj", "v_proj"]
    assert persona.portrait

    # clearing the LoRA clears its metadata too
    staff_client.post(change_url, form_data(**{"video_lora-clear": "on"}))
    persona.refresh_from_db()
    assert not persona.video_lora and persona.video_lora_meta == {}


def test_pickle_lora_upload_shows_form_error(staff_client, tmp_path):
    import torch

    path = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(1)}, path)
    response = staff_client.post(ADD_URL, form_data(video_lora=SimpleUploadedFile("evil.pt", path.read_bytes())))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["video_lora"]
    assert "pickle-based" in errors[0]
    assert "pickle-based and can run code" in response.content.decode()
    assert not Persona.objects.exists()


def test_renamed_zip_lora_shows_form_error(staff_client):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("data.pkl", b"x")
    response = staff_client.post(ADD_URL, form_data(video_lora=SimpleUploadedFile("x.safetensors", buf.getvalue())))
    assert "zip archive" in response.context["adminform"].form.errors["video_lora"][0]


def test_corrupt_portrait_is_refused(staff_client):
    bad = SimpleUploadedFile("portrait.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 20, content_type="image/png")
    response = staff_client.post(ADD_URL, form_data(portrait=bad))
    assert "Upload a valid image" in response.context["adminform"].form.errors["portrait"][0]
    assert not Persona.objects.exists()


def test_oversized_portrait_is_refused(staff_client, settings):
    settings.PORTRAIT_MAX_UPLOAD_BYTES = 100
    response = staff_client.post(ADD_URL, form_data(portrait=portrait_upload()))
    assert "the limit is 100" in response.context["adminform"].form.errors["portrait"][0]


def test_consented_likeness_needs_a_consent_reference(staff_client):
    response = staff_client.post(ADD_URL, form_data(provenance="consented", real_person_name="A Person"))
    assert "recorded consent reference" in str(response.context["adminform"].form.errors)
    response = staff_client.post(
        ADD_URL, form_data(provenance="consented", real_person_name="A Person", consent_reference="contract #12")
    )
    assert response.status_code == 302


def test_alternate_greetings_must_be_a_list_of_strings(staff_client):
    response = staff_client.post(ADD_URL, form_data(alternate_greetings='{"a": 1}'))
    assert "JSON list of strings" in response.context["adminform"].form.errors["alternate_greetings"][0]


def test_changelist_has_thumbnails_search_and_filters(staff_client, peft_lora_bytes):
    staff_client.post(
        ADD_URL,
        form_data(portrait=portrait_upload(), video_lora=SimpleUploadedFile("j.safetensors", peft_lora_bytes)),
    )
    Persona.objects.create(name="Plain Persona", tags=["noir"])
    html = staff_client.get(LIST_URL).content.decode()
    # Thumbnails come through the portrait view (MEDIA_ROOT is not served), never /media/.
    juniper = Persona.objects.get(name="Juniper Ash")
    assert f'<img class="persona-thumb" src="/personas/{juniper.slug}/portrait/"' in html and "/media/" not in html
    assert staff_client.get(f"/personas/{juniper.slug}/portrait/").status_code == 200
    assert "Import character card" in html and IMPORT_URL in html

    found = staff_client.get(LIST_URL, {"q": "noir"}).context["cl"].result_list
    assert [p.name for p in found] == ["Plain Persona"]
    found = staff_client.get(LIST_URL, {"has_lora": "yes"}).context["cl"].result_list
    assert [p.name for p in found] == ["Juniper Ash"]
    found = staff_client.get(LIST_URL, {"has_lora": "no"}).context["cl"].result_list
    assert [p.name for p in found] == ["Plain Persona"]


def test_html_in_card_fields_is_shown_escaped_in_admin(staff_client):
    payload = '<script>alert("pwned")</script>'
    persona = persona_import_card(
        data=json.dumps(v2_card(name=f"Evil{payload}", description=payload)).encode(), filename="c.json"
    )
    html = staff_client.get(reverse("admin:personas_persona_change", args=[persona.pk])).content.decode()
    assert payload not in html
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in html
    assert payload not in staff_client.get(LIST_URL).content.decode()


def test_import_view_imports_png_card(staff_client):
    assert staff_client.get(IMPORT_URL).status_code == 200
    image = png_bytes(chara=b64json(v2_card()))
    response = staff_client.post(IMPORT_URL, {"card": SimpleUploadedFile("ossian.png", image)})
    persona = Persona.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:personas_persona_change", args=[persona.pk])
    assert persona.name == "Ossian Reed" and persona.owner == staff_client.user
    assert persona.visibility == "private"  # until published
    with Image.open(persona.portrait) as portrait:
        assert portrait.size == (32, 48) and not portrait.text  # the card is not served with its portrait


def test_import_view_shows_card_errors(staff_client):
    response = staff_client.post(IMPORT_URL, {"card": SimpleUploadedFile("c.json", b"{broken")})
    assert response.status_code == 200
    assert "not valid JSON" in response.content.decode()
    response = staff_client.post(IMPORT_URL, {"card": SimpleUploadedFile("c.txt", b"hi")})
    assert "Upload a .json or .png character card." in response.content.decode()
    assert not Persona.objects.exists()


def test_export_action_returns_zip_of_png_cards(staff_client):
    a = Persona.objects.create(name="Alpha One", greeting="hi from alpha")
    b = Persona.objects.create(name="Beta Two")
    response = staff_client.post(
        LIST_URL, {"action": "export_cards_zip", "_selected_action": [a.pk, b.pk], "index": "0"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
        assert sorted(zf.namelist()) == ["alpha-one.png", "beta-two.png"]
        with Image.open(io.BytesIO(zf.read("alpha-one.png"))) as im:
            card = json.loads(base64.b64decode(im.text["ccv3"]))
    assert card["data"]["name"] == "Alpha One" and card["data"]["first_mes"] == "hi from alpha"


def test_lorebook_entries_are_inline_rows_on_the_persona(staff_client):
    from personas.models import LoreEntry
    from personas.selectors import persona_lorebook

    persona = Persona.objects.create(name="Juniper Ash", tagline="Botanist of the night garden",
                                     character_book={"name": "Garden", "extensions": {"x": 1}})
    stub = LoreEntry.objects.create(persona=persona, content="A stub another app left without keys.",
                                    raw={"keys": [], "content": "A stub another app left without keys.", "id": 9})
    change_url = reverse("admin:personas_persona_change", args=[persona.pk])
    html = staff_client.get(change_url).content.decode()
    assert "Lorebook entries" in html and "A stub another app left without keys." in html

    def row(i, **fields):
        base = {"id": "", "persona": str(persona.pk), "keys": "", "secondary_keys": "", "content": "",
                "enabled": "on", "selective_logic": "0", "position": "before_char", "depth": "",
                "insertion_order": "100", "priority": "", "case_sensitive": "unknown", "whole_words": "unknown",
                "name": "", "comment": "", "extensions": "{}"}
        return {f"lore_entries-{i}-{k}": v for k, v in {**base, **fields}.items()}

    # initial-…: the hidden initial Django renders for fields with a callable default, as a browser posts it
    data = form_data(**{"lore_entries-TOTAL_FORMS": "2", "lore_entries-INITIAL_FORMS": "1",
                        "initial-lore_entries-0-extensions": "{}"},
                     **row(0, id=str(stub.pk), content=stub.content),  # untouched: saving is not blocked
                     **row(1, keys="Moonflower\n/night(-| )garden/i", content="Moonflowers open at midnight.",
                           position="at_depth", depth="2", whole_words="true"))
    response = staff_client.post(change_url, data)
    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    book = persona_lorebook(persona=persona)
    assert book["name"] == "Garden" and book["entries"][0] == {"keys": [], "content": stub.content, "id": 9}
    added = book["entries"][1]
    assert added["keys"] == ["Moonflower", "/night(-| )garden/i"]
    assert added["extensions"] == {"position": 4, "depth": 2, "match_whole_words": True}

    refused = staff_client.post(change_url, {**data, "lore_entries-1-keys": ""})
    assert refused.status_code == 200  # a new entry needs a key (or Constant)
