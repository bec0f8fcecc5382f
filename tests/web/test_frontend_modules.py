"""The front end's contract with the server: native ES modules under the CSP, every script in
the service worker's app shell, and limits, URLs and close codes from the server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.urls import reverse

from companion.chat.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from companion.web import pwa

JS = Path(__file__).resolve().parents[2] / "static" / "js"
IMPORT = re.compile(r'^import .* from "(\.{1,2}/[^"]+)";$', re.M)


def _scripts() -> list[Path]:
    return sorted(p for p in JS.rglob("*.js") if p.name != "sw.js")


def test_every_script_is_in_the_app_shell():
    shell = {path for path in pwa.SHELL if path.startswith("js/")}
    assert {f"js/{p.relative_to(JS).as_posix()}" for p in _scripts()} == shell


def test_module_imports_resolve_to_files():
    for script in _scripts():
        for target in IMPORT.findall(script.read_text()):
            assert (script.parent / target).resolve().is_file(), f"{script.name} imports missing {target}"


def test_no_close_code_the_server_never_sends():
    sent = {CLOSE_UNAUTHENTICATED, CLOSE_FORBIDDEN}
    for script in _scripts():
        codes = {int(c) for c in re.findall(r"(?:code\s*[!=]==?\s*|case\s+)(4\d\d\d)\b", script.read_text())}
        assert codes <= sent, f"{script.name} handles close codes {codes - sent}"


@pytest.mark.django_db
def test_chat_page_loads_modules_and_hands_them_the_server_limits(client, alice_conversation, settings):
    settings.CHAT_MAX_MESSAGE_CHARS = 1234
    client.force_login(alice_conversation.owner)
    html = client.get(reverse("chat", args=[alice_conversation.pk])).content.decode()
    scripts = re.findall(r"<script\b[^>]*\bsrc=\"[^\"]*/js/[^\"]+\"[^>]*>", html)
    # theme.js: classic on purpose (in <head>, before the first paint).
    page_scripts = [s for s in scripts if "/js/theme.js" not in s]
    assert page_scripts and all('type="module"' in s for s in page_scripts), page_scripts
    boot = json.loads(re.search(r'<script id="chat-boot" type="application/json">(.*?)</script>', html, re.S).group(1))
    assert boot["max_chars"] == 1234 and 'maxlength="1234"' in html
    assert boot["socket_url"] == f"/ws/conversations/{alice_conversation.pk}/"
    assert set(boot["close_codes"].values()) == {CLOSE_UNAUTHENTICATED, CLOSE_FORBIDDEN}
