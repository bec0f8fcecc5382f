"""Branches in real headless Chromium against `manage.py serve`: Alice branches a conversation from an
earlier reply, chats on in the branch, goes back to the parent through the branch tree and finds both
lines as she left them, each with its own unsent draft."""

from __future__ import annotations

import re
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
print("CONVERSATION", conversation_start(owner=alice, persona=persona).pk)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with served_app(tmp_path_factory.mktemp("branches-browser"), seed=SEED) as app:
        yield app.url, app.conversation_id


def _said(page) -> list[str]:
    return page.locator(".message[data-role=user]:not([hidden]) .message-body").all_text_contents()


def test_branch_a_conversation_and_see_both_branches(server):
    url, conversation_id = server
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
            page.set_default_timeout(30_000)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            log_in(page, url)
            parent_url = f"{url}/conversations/{conversation_id}/"
            page.goto(parent_url)
            page.wait_for_selector("#connection-status[data-state=open]")
            assert page.locator("#branch-tree").is_hidden()  # nothing branched yet

            send_and_wait_reply(page, "Where is the key?")
            send_and_wait_reply(page, "And the lamp?")
            page.get_by_label("Message to Mira").fill("a thought for the first line")

            # Branch after Mira's answer to the first question.
            first_answer = page.locator(".message[data-role=persona]:not([hidden])").nth(1)
            first_answer_text = first_answer.locator(".message-body").inner_text()
            first_answer.get_by_role("button", name="Branch from here").click()
            page.wait_for_url(re.compile(rf"/conversations/(?!{conversation_id}/)\d+/$"))
            branch_url = page.url
            page.wait_for_selector("#connection-status[data-state=open]")
            assert _said(page) == ["Where is the key?"]
            assert page.locator(".message[data-role=persona]:not([hidden]) .message-body").all_text_contents()[
                -1] == first_answer_text
            assert page.get_by_label("Message to Mira").input_value() == ""  # the parent's draft stays there

            # The tree: the parent, and this branch (current) with the message it branched after.
            tree = page.locator("#branch-tree")
            tree.get_by_text("Branches (2)").click()
            assert tree.locator("[aria-current=page]").inner_text() == "Mira (branch)"
            assert first_answer_text[:40] in tree.locator(".branch-point").inner_text()

            send_and_wait_reply(page, "Forget the lamp, let's go.")
            page.get_by_label("Message to Mira").fill("a thought for the branch")
            assert _said(page) == ["Where is the key?", "Forget the lamp, let's go."]

            # Back to the parent through the tree: its own line and its own draft.
            tree.get_by_role("link", name="Mira", exact=True).click()
            page.wait_for_url(parent_url)
            page.wait_for_selector("#connection-status[data-state=open]")
            assert _said(page) == ["Where is the key?", "And the lamp?"]
            assert page.get_by_label("Message to Mira").input_value() == "a thought for the first line"
            page.locator("#branch-tree").get_by_text("Branches (2)").click()
            page.locator("#branch-tree").get_by_role("link", name="Mira (branch)").click()
            page.wait_for_url(branch_url)
            assert page.get_by_label("Message to Mira").input_value() == "a thought for the branch"
            assert _said(page) == ["Where is the key?", "Forget the lamp, let's go."]
            assert errors == []
        finally:
            browser.close()
