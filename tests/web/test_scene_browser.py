"""The Scene panel in real headless Chromium against `manage.py serve`: Alice adds Jonas to her chat with
Mira, picks him in "Who answers", and his reply is labelled "Jonas"; addressing Mira by name brings
Mira back; muting Jonas takes him out of "Who answers"; the memory panel switches to Jonas's memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.served_app import CHROMIUM, CHROMIUM_ARGS, PASSWORD, log_in, send_and_wait_reply, served_app

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

SEED = f"""
from django.contrib.auth import get_user_model
from companion.chat.services import conversation_start
from personas.models import Persona

alice = get_user_model().objects.create_user(username="alice", password={PASSWORD!r})
persona = Persona.objects.create(name="Mira", greeting="Evening. The lamp is lit.")
Persona.objects.create(name="Jonas", slug="jonas", description="A sailor.", greeting="Ahoy.")
print("CONVERSATION", conversation_start(owner=alice, persona=persona).pk)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with served_app(tmp_path_factory.mktemp("scene-browser"), seed=SEED) as app:
        yield app.url, app.conversation_id


def _send(page, text: str) -> str:
    """Send ``text``; the author shown on the reply to it."""
    return send_and_wait_reply(page, text).locator(".author").inner_text()


def test_add_a_persona_pick_who_answers_and_see_who_spoke(server):
    url, conversation_id = server
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
            page.set_default_timeout(30_000)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            log_in(page, url)
            page.goto(f"{url}/conversations/{conversation_id}/")
            page.wait_for_selector("#connection-status[data-state=open]")
            page.locator("#scene-title").click()
            page.locator(".scene-member", has_text="Mira").wait_for()
            assert page.locator("#scene-answerer-label").is_hidden()  # one persona: nothing to pick

            page.get_by_label("Add a persona", exact=True).select_option(label="Jonas")
            page.get_by_role("button", name="Add", exact=True).click()
            page.locator(".scene-member", has_text="Jonas").wait_for()
            page.get_by_label("Who answers", exact=True).select_option(label="Jonas")
            assert _send(page, "Who mends the nets?") == "Jonas"

            page.get_by_label("Who answers", exact=True).select_option(label="The scene decides")
            assert _send(page, "Mira, is the lamp still lit?") == "Mira"

            page.get_by_role("button", name="Mute Jonas for an hour").click()
            page.locator(".scene-member[data-muted=true]", has_text="Jonas").wait_for()
            options = page.locator("#scene-answerer option").all_text_contents()
            assert options == ["The scene decides", "Mira"]

            # The memory panel shows each member's own memory
            page.locator("#memory-toggle").click()
            whose = page.get_by_label("Whose memory", exact=True)
            assert whose.locator("option").all_text_contents() == ["Mira", "Jonas"]
            whose.select_option(label="Jonas")
            page.get_by_role("heading", name="What Jonas remembers").wait_for()
            assert not errors, errors
        finally:
            browser.close()
