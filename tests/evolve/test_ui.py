"""The chat page carries the Evolve UI, and the vocabulary it offers is read from the SceneBeat contract."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.template import Context, Template
from pydantic import ValidationError

from rendering.beat import CameraMove, Framing, Lighting, SceneBeat

JS = Path(__file__).resolve().parents[2] / "static" / "js" / "evolve.js"


def test_js_sends_only_documented_frames():
    sent = set(re.findall(r'type: "([a-z.]+)"', JS.read_text()))
    assert sent == {"render.preview", "render.request", "render.cancel", "render.continue"}
    from companion.evolve.ws import HANDLERS

    assert sent <= set(HANDLERS)


@pytest.mark.django_db
def test_chat_page_includes_the_evolve_ui(client, user, conversation):
    client.force_login(user)
    page = client.get(f"/conversations/{conversation.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="evolve-dialog"' in html and 'id="reel-bar"' in html
    assert "js/evolve.js" in html
    assert 'id="evolve-vocabulary"' in html  # the choices evolve.js offers, from the contract
    assert "csrfmiddlewaretoken" in html  # the reel POST needs it
    assert "labelled as AI-generated" in html


def test_the_page_vocabulary_is_read_from_the_beat_contract():
    # What the refine dialog reads ({% evolve_vocabulary %} through json_script): the enums in their
    # order, and bounds the contract itself accepts at the edges and refuses past them.
    html = Template('{% load evolve_tags %}{% evolve_vocabulary as v %}{{ v|json_script:"evolve-vocabulary" }}')
    body = html.render(Context()).split(">", 1)[1].rsplit("<", 1)[0]
    vocab = json.loads(body)
    assert vocab["camera"] == [c.value for c in CameraMove]
    assert vocab["framing"] == [f.value for f in Framing]
    assert vocab["lighting"] == [x.value for x in Lighting]
    duration, limits = vocab["duration_s"], vocab["max_length"]
    assert duration["min"] <= duration["default"] <= duration["max"]
    for seconds in (duration["min"], duration["max"]):
        SceneBeat(setting="a" * limits["setting"], action="b" * limits["action"], mood="c" * limits["mood"],
                  duration_s=seconds)
    for bad in ({"duration_s": duration["max"] + duration["step"]}, {"setting": "a" * (limits["setting"] + 1)},
                {"mood": "c" * (limits["mood"] + 1)}):
        with pytest.raises(ValidationError):
            SceneBeat(**{"setting": "s", "action": "a", **bad})
