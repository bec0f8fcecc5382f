"""The chat page in real headless Chromium against a real Daphne.

Daphne runs as a subprocess on its own SQLite file (COMPANION_VAR_DIR in a
temp folder, migrated and seeded through manage.py) with a slowed scripted
chat backend, so the browser sees a genuine websocket stream.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
PASSWORD = "correct horse battery staple"
SEED = f"""
import io
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from PIL import Image, ImageDraw
from personas.models import Persona

get_user_model().objects.create_user(username="alice", password={PASSWORD!r})
image = Image.new("RGB", (320, 400), (40, 52, 84))
draw = ImageDraw.Draw(image)
draw.ellipse((100, 90, 220, 230), fill=(222, 184, 150))
draw.rectangle((80, 240, 240, 400), fill=(90, 120, 180))
buffer = io.BytesIO()
image.save(buffer, format="PNG")
persona = Persona(name="Mira", tagline="Keeper of the northern lighthouse",
                  greeting="Evening, {{{{user}}}}. The lamp is lit and the kettle is on.")
persona.portrait.save("mira.png", ContentFile(buffer.getvalue()), save=False)
persona.save()
"""
SCREENSHOT = ROOT / "docs" / "screenshot-chat.png"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DaphneServer:
    """One Daphne process on a fixed port; stop() and start() again simulate a dropped connection."""

    def __init__(self, var_dir: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = var_dir / "daphne.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "companion.settings",
            "COMPANION_VAR_DIR": str(var_dir),
            "MEDIA_ROOT": str(var_dir / "media"),
            "LLM_BACKEND": "tests.web.browser_backend.SlowEchoBackend",
            # The echo of a 60-word message is longer than the packaged model's reply budget
            # (72 tokens), which would cut it with "…" like a model's reply that ran out.
            "CHAT_REPLY_MAX_TOKENS": "400",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DEBUG": "0",
            "PYTHONPATH": str(ROOT),
        }
        self.process: subprocess.Popen | None = None

    def manage(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True, capture_output=True, timeout=180
        )

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
                 "companion.asgi:application"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited early:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/login/", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"daphne did not come up:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    var_dir = tmp_path_factory.mktemp("browser-var")
    daphne = DaphneServer(var_dir)
    daphne.manage("migrate", "--noinput")
    daphne.manage("shell", "-c", SEED)
    daphne.start()
    try:
        yield daphne
    finally:
        daphne.stop()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _login(page, server) -> None:
    page.goto(f"{server.url}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server.url}/")


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    _login(page, server)
    try:
        yield page
    finally:
        context.close()


def _open_new_chat(page, server) -> None:
    page.goto(f"{server.url}/personas/")
    portrait = page.get_by_alt_text("Portrait of Mira")
    portrait.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth === 320", arg=portrait.element_handle())
    page.get_by_role("button", name="Chat with Mira").click()
    page.wait_for_url("**/conversations/*/")
    page.wait_for_selector("#connection-status[data-state=open]")


def _send(page, text: str) -> None:
    box = page.get_by_label("Message to Mira")
    box.fill(text)
    box.press("Enter")


def _persona_texts(page) -> list[str]:
    return page.locator(".message[data-role=persona]:not([hidden]) .message-body").all_text_contents()


def _user_texts(page) -> list[str]:
    return page.locator(".message[data-role=user] .message-body").all_text_contents()


def _wait_reply(page, text: str) -> None:
    page.locator(".message[data-role=persona][data-status=complete]:not([hidden]) .message-body", has_text=text)\
        .last.wait_for()  # fmt: skip


def test_send_streams_reply_and_history_survives_reload(page, server, tmp_path):
    _open_new_chat(page, server)
    assert _persona_texts(page) == ["Evening, alice. The lamp is lit and the kettle is on."]
    _send(page, "hello there, how is the sea tonight?")
    # The reply is visibly streaming (typing indicator, stop button) before it completes.
    page.wait_for_selector(".message[data-role=persona][data-status=streaming]")
    assert page.locator("#typing").is_visible()
    assert page.locator("#stop-button").is_visible()
    _wait_reply(page, "You said: hello there, how is the sea tonight?")
    assert page.locator("#typing").is_hidden()
    assert page.locator("#stop-button").is_hidden()
    assert _user_texts(page) == ["hello there, how is the sea tonight?"]

    page.reload()
    page.wait_for_selector("#connection-status[data-state=open]")
    assert _user_texts(page) == ["hello there, how is the sea tonight?"]
    assert _persona_texts(page) == [
        "Evening, alice. The lamp is lit and the kettle is on.",
        "You said: hello there, how is the sea tonight?",
    ]
    shot = tmp_path / "chat.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000  # a real rendering, not a blank page
    if os.environ.get("UPDATE_SCREENSHOT"):  # refresh the README picture on purpose only
        SCREENSHOT.parent.mkdir(exist_ok=True)
        SCREENSHOT.write_bytes(shot.read_bytes())


def test_script_typed_as_message_is_shown_as_text(page, server):
    _open_new_chat(page, server)
    evil = "<script>window.__pwned=1</script><img src=x onerror=window.__pwned=2>"
    _send(page, evil)
    _wait_reply(page, "You said:")
    assert _user_texts(page) == [evil]
    assert _persona_texts(page)[-1] == f"You said: {evil}"
    page.reload()
    page.wait_for_selector("#connection-status[data-state=open]")
    assert _user_texts(page) == [evil]
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#messages script, #messages img").count() == 0


def test_stop_regenerate_and_alternatives(page, server):
    _open_new_chat(page, server)
    long_text = " ".join(f"word{i}" for i in range(60))
    _send(page, long_text)
    page.wait_for_selector(".message[data-role=persona][data-status=streaming] .message-body:has-text('You said')")
    page.get_by_role("button", name="Stop").click()
    stopped = page.locator(".message[data-role=persona][data-status=interrupted]")
    stopped.wait_for()
    assert len(stopped.locator(".message-body").text_content()) < len(f"You said: {long_text}")

    # Regenerate: a second version appears, and the previous/next buttons flip between them.
    page.get_by_role("button", name="Write another version").click()
    _wait_reply(page, "(take 2)")
    assert page.locator(".alt-count:visible").text_content() == "2/2"
    page.get_by_role("button", name="Previous version").click()
    assert page.locator(".alt-count:visible").text_content() == "1/2"
    assert page.locator(".message[data-role=persona]:not([hidden])").last.get_attribute("data-status") == "interrupted"
    page.get_by_role("button", name="Next version").click()
    assert "(take 2)" in _persona_texts(page)[-1]


def test_send_while_reply_streams_is_refused_inline_and_can_be_retried(page, server):
    _open_new_chat(page, server)
    _send(page, " ".join(f"word{i}" for i in range(25)))
    page.wait_for_selector(".message[data-role=persona][data-status=streaming]")
    _send(page, "too eager")
    failed = page.locator(".message[data-pending][data-status=failed]")
    failed.wait_for()
    assert failed.locator(".message-body").text_content() == "too eager"
    assert failed.locator(".message-error").text_content().strip() != ""
    _wait_reply(page, "word24")
    failed.get_by_role("button", name="Retry").click()
    _wait_reply(page, "You said: too eager")
    assert _user_texts(page)[-1] == "too eager"
    assert page.locator(".message[data-pending]").count() == 0


def test_edit_and_delete_last_message(page, server):
    _open_new_chat(page, server)
    _send(page, "a message with a typo")
    _wait_reply(page, "You said: a message with a typo")
    page.get_by_role("button", name="Edit your last message").click()
    editor = page.get_by_label("Edit your message")
    editor.fill("a message without a typo")
    editor.press("Enter")
    page.locator(".message[data-role=user] .status-label", has_text="edited").wait_for()
    assert _user_texts(page) == ["a message without a typo"]

    page.get_by_role("button", name="Delete your last message").click()
    page.locator(".message[data-role=user]").wait_for(state="detached")
    assert _persona_texts(page) == ["Evening, alice. The lamp is lit and the kettle is on."]
    page.reload()
    page.wait_for_selector("#connection-status[data-state=open]")
    assert _user_texts(page) == []


def test_reconnects_after_server_restart_without_duplicates_or_gaps(browser, page, server):
    _open_new_chat(page, server)
    chat_url = page.url
    _send(page, "before the drop")
    _wait_reply(page, "You said: before the drop")

    server.stop()
    page.wait_for_selector("#connection-status[data-state=closed]")
    # Typed while offline: kept as pending and sent once the socket is back.
    _send(page, "typed while offline")
    server.start()

    # A second tab adds an exchange; the first tab must pick it up through history.sync or live frames.
    other = page.context.new_page()
    other.goto(chat_url)
    other.wait_for_selector("#connection-status[data-state=open]")
    page.wait_for_selector("#connection-status[data-state=open]", timeout=30_000)
    _wait_reply(page, "You said: typed while offline")
    _wait_reply(other, "You said: typed while offline")
    _send(other, "from the other tab")
    _wait_reply(page, "You said: from the other tab")

    expected_user = ["before the drop", "typed while offline", "from the other tab"]
    assert _user_texts(page) == expected_user
    ids = page.locator(".message[data-message-id]").evaluate_all("els => els.map(e => e.dataset.messageId)")
    assert len(ids) == len(set(ids)) == 7  # greeting + 3 exchanges
    assert page.locator(".message[data-pending]").count() == 0
    other.close()


def test_phone_width_has_no_horizontal_overflow(browser, server):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        _login(page, server)
        _open_new_chat(page, server)
        # One 250-character token (distinct parts: a repeated one would be echoed back as a
        # repetitive reply and replaced by the review's fallback line).
        _send(page, "-".join(f"unbroken{i}" for i in range(24)))
        _wait_reply(page, "You said:")
        for path in (page.url, f"{server.url}/personas/", f"{server.url}/"):
            page.goto(path)
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 375px"
        # The composer stays on screen and usable.
        page.goto(f"{server.url}/")
        assert page.locator(".conversation-link .preview").first.text_content().startswith("You said:")
        page.locator(".conversation-link").first.click()
        box = page.get_by_label("Message to Mira").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
        assert box["y"] + box["height"] <= 740
    finally:
        context.close()


def test_keyboard_only_send_with_visible_focus(page, server):
    _open_new_chat(page, server)
    page.locator("body").focus()
    # Tab from the top of the page until the composer has focus.
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == "composer-text":
            break
    else:
        pytest.fail("the composer cannot be reached with Tab")
    shadow = page.evaluate("getComputedStyle(document.activeElement).boxShadow")
    assert shadow and shadow != "none", "focused composer shows no focus ring"
    page.keyboard.type("sent from the keyboard")
    page.keyboard.press("Enter")
    _wait_reply(page, "You said: sent from the keyboard")
