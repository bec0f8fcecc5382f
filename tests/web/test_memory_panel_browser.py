"""The Memory panel in real headless Chromium against `manage.py serve`.

`serve` runs Daphne with the in-process Dramatiq worker (TASKS_IN_PROCESS, the
embedded default), so the memory extraction actor really runs after the reply,
on its own SQLite file in a temp folder, with the scripted chat backend (the
extractor's deterministic fallback). Alice says who she is, opens the panel,
sees the memories with their source snippet, edits one, forgets another and
sees the relationship stage and timeline; Bob's memory of the same persona
never shows up in her panel.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.served_app import CHROMIUM, CHROMIUM_ARGS, PASSWORD, log_in, served_app

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

SAID = "My name is Ada and I love sailing"
SEED = f"""
from django.contrib.auth import get_user_model
from companion.chat.services import conversation_start
from companion.memory.models import Memory
from personas.models import Persona

User = get_user_model()
alice = User.objects.create_user(username="alice", password={PASSWORD!r})
bob = User.objects.create_user(username="bob", password={PASSWORD!r})
persona = Persona.objects.create(name="Mira", greeting="Evening. The lamp is lit.")
bobs = conversation_start(owner=bob, persona=persona)
Memory.objects.create(user=bob, persona=persona, conversation=bobs, kind="fact", importance=0.9,
                      text="The user's name is Bob and he keeps bees.")
print("CONVERSATION", conversation_start(owner=alice, persona=persona).pk)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with served_app(tmp_path_factory.mktemp("memory-browser"), seed=SEED) as app:
        yield app.url, app.conversation_id, app.log


def _memory_texts(page) -> list[str]:
    return page.locator("#memory-list .memory-item .text").all_text_contents()


def _wait_for_memories(page, wanted: set[str], log: Path, timeout_s: float = 120) -> None:
    """The extraction actor runs after the reply (first use loads MiniLM): reopen the panel until it shows them."""
    deadline = time.monotonic() + timeout_s
    while not wanted <= set(_memory_texts(page)):
        if time.monotonic() > deadline:
            raise AssertionError(f"panel shows {_memory_texts(page)}, wanted {wanted}\n{log.read_text()[-3000:]}")
        page.get_by_role("button", name="Close the memory panel").click()
        page.get_by_role("button", name="Memory", exact=True).click()
        page.wait_for_timeout(1000)


def test_memory_panel_lists_edits_and_forgets(server):
    url, conversation_id, log = server
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1100, "height": 900})
            context.set_default_timeout(30_000)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            log_in(page, url)
            page.goto(f"{url}/conversations/{conversation_id}/")
            page.wait_for_selector("#connection-status[data-state=open]")

            box = page.get_by_label("Message to Mira")
            box.fill(SAID)
            box.press("Enter")
            page.locator(".message[data-role=user] .message-body", has_text=SAID).wait_for()
            page.locator(".message[data-role=persona][data-status=complete]:not([hidden])").nth(1).wait_for()

            panel = page.locator("#memory-panel")
            assert panel.is_hidden()
            page.get_by_role("button", name="Memory", exact=True).click()
            assert panel.is_visible()
            # Facts name the user by the name they gave ("Ada"), in the Facts tab (the default).
            name, sailing = "The user's name is Ada.", "Ada loves sailing."
            _wait_for_memories(page, {name, sailing}, log)

            # Only Alice's memories: Bob's memory of the same persona is not listed.
            assert sorted(_memory_texts(page)) == sorted([name, sailing])
            assert page.locator("#memory-count").inner_text() == "(2)"
            assert "Bob" not in panel.inner_text()

            # Each memory shows the message it came from.
            item = panel.locator(".memory-item", has_text=sailing)
            assert item.locator(".source").all_text_contents() == [f"“{SAID}”"]
            assert item.locator(".kind").text_content() == "preference"

            # Relationship stage and the timeline with the first meeting.
            page.wait_for_function("() => !document.querySelector('#memory-stage').textContent.startsWith('…')")
            stage = page.locator("#memory-stage").inner_text()
            assert re.fullmatch(r"Stranger · stage 1 of \d", stage), stage
            # In words; the scores only on hover.
            summary = page.locator("#memory-rel-summary")
            assert "Mira is still getting to know you." in summary.inner_text()
            assert not re.search(r"\d\.\d", summary.inner_text())
            scores = summary.get_attribute("title")
            assert re.fullmatch(r"affinity -?\d\.\d\d · trust -?\d\.\d\d · \d+ exchanges", scores), scores
            assert any(t.endswith("— First conversation") for t in
                       page.locator("#memory-timeline li").all_text_contents())

            # Edit: the new text is saved (still there after the panel reloads) and marked as edited.
            panel.get_by_role("button", name=f"Edit memory: {sailing}").click()
            area = panel.get_by_label("Memory text")
            assert area.input_value() == sailing
            area.fill("Ada loves sailing small boats on the lake.")
            panel.get_by_role("button", name="Save").click()
            edited = panel.locator(".memory-item", has_text="small boats on the lake")
            edited.wait_for()
            assert "edited by you" in edited.inner_text()
            assert sailing not in _memory_texts(page)

            # Forget: confirm the dialog, the memory disappears.
            page.once("dialog", lambda dialog: dialog.accept())
            panel.get_by_role("button", name=f"Forget: {name}").click()
            panel.locator(".memory-item", has_text=name).wait_for(state="detached")
            assert page.locator("#memory-count").inner_text() == "(1)"

            # Both changes are on the server: reopen the panel (a fresh fetch).
            page.get_by_role("button", name="Close the memory panel").click()
            assert panel.is_hidden()
            page.get_by_role("button", name="Memory", exact=True).click()
            page.wait_for_function(
                "() => [...document.querySelectorAll('#memory-list .memory-item .text')]"
                ".map(e => e.textContent).join('|') === 'Ada loves sailing small boats on the lake.'"
            )
            assert page.locator("#memory-count").inner_text() == "(1)"

            # The Turns tab: every message of both speakers, with who said it (a short turn also
            # carries what it answers: 'Ada (to Mira's "The lamp is lit."): My name is Ada…').
            panel.get_by_role("tab", name="Turns").click()
            page.wait_for_function(
                "() => [...document.querySelectorAll('#memory-list .memory-item .text')]"
                ".some(e => e.textContent.startsWith('Ada') && e.textContent.includes(': My name is Ada'))"
            )
            assert all(t.startswith(("Ada", "Mira")) for t in _memory_texts(page))
            # Ask memory: ranked results across layers, each with its layer and source turn.
            panel.get_by_label("What should Mira recall?").fill("what does Ada enjoy doing?")
            panel.get_by_role("button", name="Recall").click()
            first = panel.locator("#memory-results .memory-item").first
            first.wait_for()
            assert "sailing" in first.inner_text().lower()
            assert first.locator(".layer").inner_text() in ("fact", "turn", "session")
            assert errors == []
        finally:
            browser.close()
