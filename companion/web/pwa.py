"""The installable app: the web app manifest, and the service worker's source with its
app-shell list and version.

The worker (static/js/sw.js) precaches the *app shell*: the stylesheets, scripts,
icons, manifest and the offline page, all static files. It never caches a page,
an API answer, a clip or a portrait: a chat page carries the conversation in its
HTML, so navigations always go to the network (offline: the static offline page).
The version is a hash of the shell's bytes, so a deploy that changes any of them
installs a fresh cache and drops the old one.
"""

from __future__ import annotations

import hashlib
import json

from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.urls import reverse

SHELL = (
    "css/tokens.css", "css/app.css", "css/evolve.css", "css/memory.css", "css/branches.css",
    "css/scene.css",
    "js/theme.js", "js/app.js", "js/chat.js", "js/chat-ui.js", "js/notify.js", "js/evolve.js", "js/memory.js",
    "js/gallery.js", "js/confirm.js", "js/branches.js", "js/scene.js",
    "js/chat/store.js", "js/chat/view.js", "js/evolve/controls.js", "js/evolve/progress.js",
    "js/lib/api.js", "js/lib/dom.js", "js/lib/editform.js", "js/lib/ids.js", "js/lib/socket.js", "js/lib/toast.js",
    "icons/favicon.svg", "icons/favicon-badge.svg", "icons/icon-192.png", "icons/icon-512.png",
    "icons/icon-maskable-512.png", "icons/apple-touch-icon.png",
    "offline.html",
)  # fmt: skip
WORKER = "js/sw.js"


def _read(path: str) -> bytes:
    found = finders.find(path)
    if not found:
        raise FileNotFoundError(f"static file {path} is missing")
    with open(found, "rb") as handle:
        return handle.read()


def shell_version() -> str:
    digest = hashlib.sha256(_read(WORKER))
    for path in SHELL:
        digest.update(path.encode())
        digest.update(_read(path))
    digest.update(json.dumps(manifest(), sort_keys=True).encode())
    return digest.hexdigest()[:16]


def manifest() -> dict:
    """The web app manifest: what a phone needs to put Companion on its home screen."""
    icon = lambda path, size, purpose: {  # noqa: E731
        "src": static(path), "sizes": size, "type": "image/png", "purpose": purpose,
    }
    return {
        "id": "/",
        "name": "Companion",
        "short_name": "Companion",
        "description": "Chat with characters who remember you, and turn moments into short clips.",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#0e1116",
        "theme_color": "#5b35c9",
        "icons": [
            icon("icons/icon-192.png", "192x192", "any"),
            icon("icons/icon-512.png", "512x512", "any"),
            icon("icons/icon-maskable-512.png", "512x512", "maskable"),
            {"src": static("icons/favicon.svg"), "sizes": "any", "type": "image/svg+xml", "purpose": "any"},
        ],
        "shortcuts": [
            {"name": "Conversations", "url": "/", "icons": [icon("icons/icon-192.png", "192x192", "any")]},
            {"name": "Personas", "url": "/personas/", "icons": [icon("icons/icon-192.png", "192x192", "any")]},
        ],
    }


def service_worker_source() -> str:
    """static/js/sw.js with the shell's URLs and version filled in."""
    source = _read(WORKER).decode()
    shell = [*(static(path) for path in SHELL), reverse("web-manifest")]
    return (
        source.replace('"__SHELL_VERSION__"', json.dumps(shell_version()))
        .replace('["__SHELL_URLS__"]', json.dumps(shell))
        .replace('"__OFFLINE_URL__"', json.dumps(static("offline.html")))
    )
