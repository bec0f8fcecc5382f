"""import_card / export_card management commands."""

from __future__ import annotations

import base64
import io
import json

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from personas.models import Persona

from .conftest import b64json, png_bytes, v2_card, v3_card

pytestmark = pytest.mark.django_db


def test_import_card_imports_several_files(tmp_path, django_user_model):
    owner = django_user_model.objects.create_user("writer")
    (tmp_path / "a.json").write_text(json.dumps(v2_card(name="From Json")))
    (tmp_path / "b.png").write_bytes(png_bytes(ccv3=b64json(v3_card(name="From Png"))))
    out = io.StringIO()
    call_command("import_card", str(tmp_path / "a.json"), str(tmp_path / "b.png"), "--owner", "writer", stdout=out)
    assert set(Persona.objects.values_list("name", flat=True)) == {"From Json", "From Png"}
    assert all(p.owner == owner for p in Persona.objects.all())
    assert "imported “From Png” as from-png" in out.getvalue()


def test_import_card_reports_bad_files_and_fails(tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(v2_card()))
    bad.write_text("{oops")
    err = io.StringIO()
    with pytest.raises(CommandError, match=r"2 of 3 card\(s\) could not be imported"):
        call_command("import_card", str(good), str(bad), str(tmp_path / "missing.json"), stderr=err)
    assert "bad.json: The card is not valid JSON" in err.getvalue()
    assert "missing.json: cannot read" in err.getvalue()
    assert Persona.objects.count() == 1


def test_import_card_unknown_owner(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(v2_card()))
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("import_card", str(tmp_path / "a.json"), "--owner", "ghost")


def test_export_card_json_v2(tmp_path):
    Persona.objects.create(name="Exported One", greeting="hello")
    target = tmp_path / "out.json"
    call_command("export_card", "exported-one", "--format", "json", "--spec", "v2", "--output", str(target),
                 stdout=io.StringIO())  # fmt: skip
    card = json.loads(target.read_text())
    assert card["spec"] == "chara_card_v2" and card["data"]["first_mes"] == "hello"


def test_export_card_png_default_v3(tmp_path, monkeypatch):
    Persona.objects.create(name="Png Person")
    monkeypatch.chdir(tmp_path)
    call_command("export_card", "png-person", "--format", "png", stdout=io.StringIO())
    with Image.open(tmp_path / "png-person.png") as im:
        assert json.loads(base64.b64decode(im.text["ccv3"]))["data"]["name"] == "Png Person"
        assert json.loads(base64.b64decode(im.text["chara"]))["spec"] == "chara_card_v2"


def test_export_card_unknown_slug():
    with pytest.raises(CommandError, match="No persona with slug 'nobody'"):
        call_command("export_card", "nobody", "--format", "json")
