"""How chat.js shows text, in real headless Chromium against `manage.py serve`.

- A reply is text: `<script>` and `<img onerror>` from the model show as typed;
  roleplay `*actions*` become `<em>`, `**words**` `<strong>`; user bubbles carry
  the display name, not the login name. (The slowed echo backend replies with
  what was said, so the reply carries exactly the markup we send.)
- A reply that resumes after a reload: the page's websocket is answered by the
  test (Playwright's ``route_web_socket``), which plays the server's part of
  companion/chat/PROTOCOL.md frame by frame: `history` with a reply still
  streaming, deltas placed by `offset` (replayed, spliced, past a gap, after an
  emoji), Stop, then a `message.done` whose cleaned text replaces the streamed
  one.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from tests.served_app import CHROMIUM, CHROMIUM_ARGS, PASSWORD, log_in, served_app

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

SEED = f"""
from django.contrib.auth import get_user_model
from companion.accounts.services import profile_set_display_name
from companion.chat.services import conversation_start
from personas.models import Persona

alice = get_user_model().objects.create_user(username="alice", password={PASSWORD!r})
profile_set_display_name(user=alice, display_name="Ally")
persona = Persona.objects.create(name="Mira", greeting="Evening. The lamp is lit.")
print("CONVERSATION", conversation_start(owner=alice, persona=persona).pk)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    env = {"LLM_BACKEND": "tests.web.browser_backend.SlowEchoBackend"}
    with served_app(tmp_path_factory.mktemp("chat-render"), seed=SEED, env=env) as app:
        yield app


@pytest.fixture
def page(server):
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1100, "height": 800})
            context.set_default_timeout(30_000)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            log_in(page, server.url)
            yield page
            assert not errors, errors
        finally:
            browser.close()


def _last_persona_body(page):
    return page.locator(".message[data-role=persona]:not([hidden]) .message-body").last


def test_reply_markup_is_text_and_actions_are_emphasis(page, server):
    page.goto(f"{server.url}/conversations/{server.conversation_id}/")
    page.wait_for_selector("#connection-status[data-state=open]")
    said = '*smiles* <script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> **really**'
    box = page.get_by_label("Message to Mira")
    box.fill(said)
    box.press("Enter")
    page.locator(".message[data-role=persona][data-status=complete] .message-body", has_text="You said").wait_for()

    for attempt in ("live", "after reload"):
        body = _last_persona_body(page)
        assert body.locator("em").all_text_contents() == ["smiles"], attempt
        assert body.locator("strong").all_text_contents() == ["really"], attempt
        assert body.text_content() == (
            'You said: smiles <script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> really'
        ), attempt
        assert page.locator("#messages script, #messages img").count() == 0, attempt
        assert page.evaluate("window.__pwned") is None, attempt
        # The user's own bubble: the display name, not the login name; the same emphasis.
        mine = page.locator(".message[data-role=user]").last
        assert mine.locator(".author").text_content() == "Ally", attempt
        assert mine.locator(".message-body em").all_text_contents() == ["smiles"], attempt
        page.reload()
        page.wait_for_selector("#connection-status[data-state=open]")


# --- a reply that resumes after a reload, against a scripted socket --------------------------


def _message(mid: int, seq: int, role: str, content: str, status: str = "complete", changed_seq: int | None = None):
    return {
        "id": mid, "seq": seq, "changed_seq": changed_seq or seq, "position": seq, "role": role, "kind": "text",
        "content": content, "status": status, "client_id": "", "parent_id": None, "is_active": True,
        "alternative_ids": [mid] if role == "persona" else [], "deleted": False, "error_detail": "", "extra": {},
        "created_at": "2026-11-29T12:00:00Z", "updated_at": "2026-11-29T12:00:00Z",
    }  # fmt: skip


class FakeServer:
    """The server's end of the page's websocket, driven by the test."""

    def __init__(self) -> None:
        self.route = None
        self.received: list[dict] = []

    def handler(self, route) -> None:  # no connect_to_server(): nothing reaches Daphne
        self.route = route
        route.on_message(lambda message: self.received.append(json.loads(message)))

    def send(self, frame: dict) -> None:
        self.route.send(json.dumps(frame))

    def wait_for(self, page, predicate, what: str, timeout_s: float = 10):
        deadline = time.monotonic() + timeout_s
        while True:
            found = [f for f in self.received if predicate(f)]
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f"page never sent {what}; it sent {self.received}")
            page.wait_for_timeout(50)  # lets Playwright dispatch the socket's callbacks


REPLY = 9002


def _body_is(page, text: str) -> None:
    body = page.locator(f".message[data-message-id='{REPLY}'] .message-body")
    playwright_api.expect(body).to_have_text(text)


def test_a_streaming_reply_resumes_by_offset_and_ends_with_the_final_text(page, server):
    fake = FakeServer()
    page.route_web_socket(re.compile(r"/ws/conversations/\d+/$"), fake.handler)
    page.goto(f"{server.url}/conversations/{server.conversation_id}/")
    first_sync = fake.wait_for(page, lambda f: f["type"] == "history.sync", "history.sync on open")
    fake.received.clear()

    # The reload's history: the user's message and the reply still streaming, text so far.
    user = _message(9001, 40, "user", "Hi *waves*")
    reply = _message(REPLY, 41, "persona", "*smi", status="streaming")
    fake.send({"type": "history", "after_seq": first_sync["after_seq"], "messages": [user, reply],
               "last_seq": 41, "more": False})  # fmt: skip
    _body_is(page, "*smi")  # an unclosed asterisk is plain text while the reply streams
    reply_node = page.locator(f".message[data-message-id='{REPLY}']")
    assert reply_node.get_attribute("data-status") == "streaming"
    assert reply_node.locator("em").count() == 0
    assert page.get_by_role("button", name="Stop").is_visible()

    fake.send({"type": "message.delta", "message_id": REPLY, "text": "les* Hel", "offset": 4})
    _body_is(page, "smiles Hel")
    assert reply_node.locator(".message-body em").all_text_contents() == ["smiles"]
    # A delta the history already held (it was sent before the history frame): ignored.
    fake.send({"type": "message.delta", "message_id": REPLY, "text": "*smiles*", "offset": 0})
    # One starting inside the held text: the server's text wins from its offset on.
    fake.send({"type": "message.delta", "message_id": REPLY, "text": "Hi there", "offset": 9})
    _body_is(page, "smiles Hi there")

    # Past a gap: the page asks for history from the newest change it holds, and takes the exact text.
    fake.send({"type": "message.delta", "message_id": REPLY, "text": " again", "offset": 40})
    sync = fake.wait_for(page, lambda f: f["type"] == "history.sync", "history.sync after a gap")
    assert sync["after_seq"] == 41
    _body_is(page, "smiles Hi there")  # nothing of the gapped delta was applied
    caught_up = _message(REPLY, 41, "persona", "*smiles* Hi there, friend", status="streaming")
    fake.send({"type": "history", "after_seq": 41, "messages": [caught_up], "last_seq": 41, "more": False})
    _body_is(page, "smiles Hi there, friend")

    # Offsets count code points: the emoji is one character, so " ok" lands right after it.
    fake.send({"type": "message.delta", "message_id": REPLY, "text": " 😊", "offset": 25})
    fake.send({"type": "message.delta", "message_id": REPLY, "text": " ok *no", "offset": 27})
    _body_is(page, "smiles Hi there, friend 😊 ok *no")

    page.get_by_role("button", name="Stop").click()
    stop = fake.wait_for(page, lambda f: f["type"] == "message.stop", "message.stop")
    assert stop["message_id"] == REPLY

    # message.done: its cleaned content replaces everything streamed.
    done = _message(REPLY, 41, "persona", "*smiles* Hi there, friend 😊.", status="complete", changed_seq=42)
    fake.send({"type": "message.done", "message": done})
    _body_is(page, "smiles Hi there, friend 😊.")
    assert reply_node.get_attribute("data-status") == "complete"
    playwright_api.expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    # A late delta of a finished reply changes nothing.
    fake.send({"type": "message.delta", "message_id": REPLY, "text": " stray", "offset": 28})
    page.wait_for_timeout(200)
    _body_is(page, "smiles Hi there, friend 😊.")
    # The user's bubble from history: emphasis too, under the display name.
    mine = page.locator(".message[data-message-id='9001']")
    assert mine.locator(".message-body em").all_text_contents() == ["waves"]
    assert mine.locator(".author").text_content() == "Ally"
