"""Cards with lorebooks: entries become rows, and export gives back exactly what came in."""

from __future__ import annotations

import base64
import copy
import io
import json

import pytest
from PIL import Image

from personas.models import LoreEntry, LorePosition
from personas.selectors import persona_lorebook
from personas.services import persona_export_card, persona_import_card

from .conftest import b64json, png_bytes, v2_card, v3_card

pytestmark = pytest.mark.django_db

# The V2 spec's entry shape, every optional field present.
V2_BOOK = {
    "name": "Saltreach",
    "description": "Places and people of the coast.",
    "scan_depth": 6,
    "token_budget": 300,
    "recursive_scanning": True,
    "extensions": {"other_app": {"x": 1}},
    "entries": [
        {
            "keys": ["Gannet Point", "the point"],
            "content": "The lighthouse on Gannet Point has been dark since the flood.",
            "extensions": {},
            "enabled": True,
            "insertion_order": 10,
            "case_sensitive": False,
            "name": "Gannet Point",
            "priority": 5,
            "id": 1,
            "comment": "main location",
            "selective": True,
            "secondary_keys": ["lamp", "light"],
            "constant": False,
            "position": "before_char",
        },
        {
            "keys": [],
            "content": "Saltreach is always foggy.",
            "extensions": {},
            "enabled": True,
            "insertion_order": 0,
            "constant": True,
            "position": "after_char",
        },
    ],
}
# What SillyTavern writes: its settings under extensions, ids as numbers, a disabled entry.
ST_ENTRY = {
    "id": 7,
    "keys": ["/storm(s|y)?/i"],
    "secondary_keys": ["night"],
    "comment": "Storms",
    "content": "Storms roll in from the west.",
    "constant": False,
    "selective": True,
    "insertion_order": 100,
    "enabled": False,
    "position": "after_char",
    "use_regex": True,
    "extensions": {
        "position": 4, "exclude_recursion": False, "display_index": 3, "probability": 100,
        "useProbability": True, "depth": 2, "selectiveLogic": 2, "group": "", "scan_depth": None,
        "case_sensitive": None, "match_whole_words": True, "role": 0, "vectorized": False,
    },
}
# V3 additions: use_regex, decorators in the content, an id that is a string.
V3_ENTRY = {
    "keys": ["harbou?r"],
    "content": "@@depth 3\n@@role system\nThe harbour smells of tar.",
    "extensions": {},
    "enabled": True,
    "insertion_order": 5,
    "use_regex": True,
    "constant": False,
    "id": "harbour-1",
    "x_future_field": {"keep": ["me"]},
}


def card_with_book(book, maker=v2_card):
    return maker(character_book=copy.deepcopy(book))


def export_json(persona, version):
    return json.loads(persona_export_card(persona=persona, fmt="json", version=version))


def without_app(card):
    card = copy.deepcopy(card)
    card["data"]["extensions"].pop("companion")
    return card


def test_entries_become_rows_with_their_settings():
    book = {**V2_BOOK, "entries": [*V2_BOOK["entries"], ST_ENTRY, V3_ENTRY]}
    persona = persona_import_card(data=json.dumps(card_with_book(book)).encode(), filename="c.json")
    rows = list(persona.lore_entries.all())
    assert [r.name for r in rows] == ["Gannet Point", "", "", ""]
    gannet, fog, storm, harbour = rows
    assert gannet.keys == ["Gannet Point", "the point"] and gannet.secondary_keys == ["lamp", "light"]
    assert gannet.selective and gannet.priority == 5 and gannet.insertion_order == 10
    assert fog.constant and fog.position == LorePosition.AFTER_CHAR
    assert storm.position == LorePosition.AT_DEPTH and storm.depth == 2 and storm.selective_logic == 2
    assert storm.whole_words is True and storm.enabled is False and storm.use_regex
    assert harbour.use_regex and harbour.content.startswith("@@depth 3")
    assert persona.character_book == {k: v for k, v in book.items() if k != "entries"}


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_json_round_trip_is_exact(version):
    maker = v2_card if version == "v2" else v3_card
    book = {**V2_BOOK, "entries": [*V2_BOOK["entries"], ST_ENTRY, V3_ENTRY]}
    original = card_with_book(book, maker)
    persona = persona_import_card(data=json.dumps(original).encode(), filename="c.json")
    exported = export_json(persona, version)
    assert without_app(exported) == original
    again = persona_import_card(data=json.dumps(exported).encode(), filename="again.json")
    assert export_json(again, version) == exported


def test_png_round_trip_v2_and_v3_chunks():
    book = {**V2_BOOK, "entries": [*V2_BOOK["entries"], ST_ENTRY, V3_ENTRY]}
    original = card_with_book(book, v3_card)
    persona = persona_import_card(data=png_bytes(ccv3=b64json(original)), filename="c.png")
    png = persona_export_card(persona=persona, fmt="png", version="v3")
    with Image.open(io.BytesIO(png)) as im:
        chunks = {k: json.loads(base64.b64decode(v)) for k, v in im.text.items()}
    assert chunks["ccv3"]["data"]["character_book"] == book
    assert chunks["chara"]["data"]["character_book"] == book
    assert without_app(chunks["ccv3"]) == original


def test_a_card_without_a_book_exports_none_and_an_empty_book_stays_empty():
    none = persona_import_card(data=json.dumps(v2_card(character_book=None)).encode(), filename="a.json")
    assert export_json(none, "v2")["data"]["character_book"] is None
    empty = persona_import_card(data=json.dumps(v2_card(character_book={"entries": []})).encode(), filename="b.json")
    assert export_json(empty, "v2")["data"]["character_book"] == {"entries": []}


def test_an_edit_in_the_admin_rows_is_exported_and_the_rest_is_kept():
    book = {**V2_BOOK, "entries": [ST_ENTRY]}
    persona = persona_import_card(data=json.dumps(card_with_book(book)).encode(), filename="c.json")
    row = persona.lore_entries.get()
    row.keys = ["tempest"]
    row.position = LorePosition.BEFORE_CHAR
    row.selective_logic = 3
    row.save()
    entry = persona_lorebook(persona=persona)["entries"][0]
    assert entry["keys"] == ["tempest"]
    assert entry["position"] == "before_char" and entry["extensions"]["position"] == 0
    assert entry["extensions"]["selectiveLogic"] == 3
    # everything not edited is as the card gave it
    assert entry["extensions"]["display_index"] == 3 and entry["extensions"]["role"] == 0
    assert entry["id"] == 7 and entry["comment"] == "Storms" and entry["use_regex"] is True


def test_an_entry_made_in_the_admin_exports_with_the_spec_fields():
    persona = persona_import_card(data=json.dumps(v2_card(character_book=None)).encode(), filename="a.json")
    row = LoreEntry.objects.create(persona=persona, keys=["tide"], content="The tide turns at six.",
                                   position=LorePosition.AT_DEPTH, depth=1, whole_words=True)
    book = persona_lorebook(persona=persona)
    assert book == {"entries": [{
        "keys": ["tide"], "content": "The tide turns at six.", "enabled": True, "insertion_order": 100,
        "position": "before_char", "extensions": {"position": 4, "depth": 1, "match_whole_words": True},
        "id": row.pk,
    }]}


def test_a_huge_book_is_refused_with_the_limit():
    from personas.cards import CardError

    book = {"entries": [{"keys": ["a"], "content": "y" * 300_000}]}
    with pytest.raises(CardError, match="256 KB"):
        persona_import_card(data=json.dumps(v2_card(character_book=book)).encode(), filename="c.json")
