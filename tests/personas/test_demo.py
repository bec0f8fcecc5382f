"""The demo persona: original, fictional, adult, with a procedurally drawn portrait; idempotent."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from personas.demo import ensure_demo_persona
from personas.models import Persona
from personas.portrait_art import draw_portrait

pytestmark = pytest.mark.django_db


def test_demo_persona_is_created_once(settings):
    first = ensure_demo_persona()
    second = ensure_demo_persona()
    assert first.pk == second.pk and Persona.objects.count() == 1
    assert second.portrait.name == first.portrait.name
    portraits = list((settings.MEDIA_ROOT / "personas" / "portraits").iterdir())
    assert [p.name for p in portraits] == ["mira-vale.png"]


def test_demo_persona_content():
    persona = ensure_demo_persona()
    assert persona.name == "Mira Vale" and persona.provenance == "fictional" and persona.visibility == "public"
    assert persona.greeting and persona.personality and persona.scenario and persona.appearance and persona.wardrobe
    assert "adult" in persona.appearance.lower() and persona.style_tags
    with Image.open(persona.portrait.open("rb")) as im:
        assert im.format == "PNG" and im.size == (512, 512)
        colours = im.convert("RGB").getcolors(maxcolors=1_000_000)
    assert len(colours) > 50  # a drawn picture, not a flat fill


def test_portrait_is_deterministic_and_seeded():
    assert draw_portrait("mira-vale") == draw_portrait("mira-vale")
    assert draw_portrait("mira-vale") != draw_portrait("someone-else")
    with Image.open(io.BytesIO(draw_portrait("x", size=128))) as im:
        assert im.size == (128, 128)


def test_missing_portrait_file_is_redrawn():
    persona = ensure_demo_persona()
    persona.portrait.storage.delete(persona.portrait.name)
    again = ensure_demo_persona()
    assert again.pk == persona.pk
    assert again.portrait.storage.exists(again.portrait.name)
    assert again.portrait.read() == draw_portrait("mira-vale")
