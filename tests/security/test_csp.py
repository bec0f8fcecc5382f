"""Issue 11, item 13: a Content-Security-Policy on every page, and pages that need no inline code.

The policy comes from settings.CONTENT_SECURITY_POLICY (companion.web.csp); a
page that still carries inline script, inline style or an event-handler
attribute would break under it, so the pages are scanned for those too.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from companion.chat import services as chat_services
from tests.web.factories import make_persona, make_user, say

pytestmark = pytest.mark.django_db

_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>", re.I)
_STYLE_TAG = re.compile(r"<style\b", re.I)
_STYLE_ATTR = re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I)
_EVENT_ATTR = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)
_JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']\s*javascript:""", re.I)


def inline_code(html: str) -> list[str]:
    found = []
    for name, pattern in (("inline <script>", _INLINE_SCRIPT), ("<style>", _STYLE_TAG), ("style=", _STYLE_ATTR),
                          ("on*= handler", _EVENT_ATTR), ("javascript: URL", _JS_URL)):
        found += [f"{name}: {m.group(0)[:90]}" for m in pattern.finditer(html)]
    return found


@pytest.fixture
def pages():
    alice = make_user("alice")
    conversation = chat_services.conversation_start(owner=alice, persona=make_persona("Mira", portrait=True))
    say(conversation, "Hello <b>there</b>.")
    return alice, [
        "/", "/personas/", f"/conversations/{conversation.pk}/", "/account/", "/account/delete/",
    ]


def test_every_page_sends_the_policy_from_settings(pages, settings):
    alice, urls = pages
    client = Client()
    for url in ("/login/", "/signup/", "/healthz"):
        response = client.get(url)
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy and "object-src 'none'" in policy
        assert "'unsafe-inline'" not in policy and "frame-ancestors 'none'" in policy, url
    client.force_login(alice)
    for url in urls:
        policy = client.get(url)["Content-Security-Policy"]
        assert "connect-src 'self' ws://testserver" in policy, url  # the chat socket, also for older browsers
    settings.CSP_REPORT_ONLY = True
    response = client.get("/")
    assert "Content-Security-Policy-Report-Only" in response and "Content-Security-Policy" not in response


def test_only_the_api_docs_page_widens_the_policy_and_only_for_styles():
    policy = Client().get("/api/docs/")["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in policy and "script-src 'self';" in policy


def test_the_pages_need_no_inline_code(pages, django_user_model):
    alice, urls = pages
    client = Client()
    offenders = {url: inline_code(client.get(url).content.decode()) for url in ("/login/", "/signup/")}
    client.force_login(alice)
    offenders |= {url: inline_code(client.get(url).content.decode()) for url in urls}
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-12345")
    client.force_login(root)
    persona = make_persona("Juniper", portrait=True)
    admin_urls = ("/admin/", "/admin/personas/persona/", f"/admin/personas/persona/{persona.pk}/change/",
                  "/admin/personas/persona/import-card/")
    offenders |= {url: inline_code(client.get(url).content.decode()) for url in admin_urls}
    offenders = {url: found for url, found in offenders.items() if found}
    assert not offenders, offenders


def test_the_scanner_sees_inline_code():
    html = ('<script>alert(1)</script><script src="/s.js"></script><script type="application/json">{}</script>'
            '<p style="color:red" onclick="x()">a</p><a href="javascript:void(0)">b</a><style>p{}</style>')
    assert len(inline_code(html)) == 5
