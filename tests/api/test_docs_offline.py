"""/api/docs/ works without the internet: Swagger UI comes from our own static files (drf-spectacular-sidecar)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

# Every place an HTML page can make the browser fetch something.
_REFERENCES = re.compile(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_api_docs_reference_only_same_origin_static_files():
    client = Client()
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    references = _REFERENCES.findall(html)
    assert any(ref.endswith("swagger-ui-bundle.js") for ref in references), references
    assert any(ref.endswith("swagger-ui.css") for ref in references), references
    for ref in references:
        # A path on this server: not absolute ("https:"), not scheme-relative ("//cdn…").
        assert ref.startswith("/") and not ref.startswith("//"), ref
    assert "cdn.jsdelivr" not in html and "unpkg" not in html and "://" not in html
    # …and each of those files is really served here, non-empty.
    for ref in references:
        response = client.get(ref)
        assert response.status_code == 200, ref
        assert len(_body(response)) > 100, ref
    # The schema it loads is ours too; the start-up script is a file of ours, not inline (CSP).
    script = next(ref for ref in references if "script=" in ref)
    assert '"/api/schema/"' in _body(client.get(script)).decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script on /api/docs/"
