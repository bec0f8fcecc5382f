"""The web app as a person uses it, in real headless Chromium against `manage.py serve`.

(Over 400 lines: the tests share one served app and its seed, which takes a minute to start.)

One served app (Daphne + the in-process render worker + the slowed echo chat backend), seeded
with a gallery of personas, a conversation with memories and a relationship, and a superuser.

- axe-core (bundled by axe-playwright-python, injected into the page: never from a CDN) on
  every page, light and dark, at 1366x900 and 390x844: no serious or critical violation.
  The same pass saves the screenshots of docs/screenshots/ (UPDATE_SCREENSHOTS=1 rewrites them).
- A clip that finishes while the tab is in the background badges the title and the favicon and
  shows a notification that links to the clip; nothing while the tab is in front.
- Installable: manifest, icons, a service worker at / that caches the app shell only.
- Phones: one-row chat header, composer on the visual viewport, equal action buttons, the reel
  sheet closes once the reel is queued, no sideways scrolling; keyboard use and focus return.

Headless Chromium never hides a tab (a tab behind another still reports "visible"), so the
background test flips `document.visibilityState` the way a tab switch does, from an init
script, and fires `visibilitychange`; the page's code reads only that.
"""

from __future__ import annotations

import io
import json
import os
import re
import time
from pathlib import Path

import pytest
from django.template.loader import render_to_string

from tests.served_app import CHROMIUM, PASSWORD, log_in, served_app
from tests.served_app import CHROMIUM_ARGS as BASE_CHROMIUM_ARGS

playwright_api = pytest.importorskip("playwright.sync_api")
axe_api = pytest.importorskip("axe_playwright_python.sync_playwright")

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = [*BASE_CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"]
SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
THEMES = ("light", "dark")

SEED = f"""
import io, datetime
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image, ImageDraw
from companion.accounts.services import profile_set_display_name
from companion.chat import services
from companion.memory.models import Memory, Milestone, RelationshipState
from personas.models import Persona

User = get_user_model()
alice = User.objects.create_user(username="alice", password={PASSWORD!r})
profile_set_display_name(user=alice, display_name="Ally")
User.objects.create_superuser("root", password={PASSWORD!r})

def portrait(sky, skin, coat):
    image = Image.new("RGB", (320, 400), sky)
    draw = ImageDraw.Draw(image)
    for y in range(400):
        shade = tuple(max(0, c - y // 8) for c in sky)
        draw.line([(0, y), (320, y)], fill=shade)
    draw.ellipse((105, 95, 215, 225), fill=skin)
    draw.pieslice((80, 230, 240, 470), 180, 360, fill=coat)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return ContentFile(buffer.getvalue())

PEOPLE = [
    ("Mira", "Keeper of the northern lighthouse, fond of storms and strong tea", ["slice of life", "mentor", "sea"],
     ((58, 84, 140), (226, 186, 150), (92, 124, 186))),
    ("Vale", "A duelling rival from the academy who never admits she is impressed", ["fantasy", "rival", "academy"],
     ((120, 60, 90), (214, 170, 140), (60, 40, 70))),
    ("Juniper", "Botanist on a generation ship, talks to her plants and to you", ["sci-fi", "mentor", "cozy"],
     ((40, 110, 90), (200, 160, 130), (230, 220, 190))),
    ("Orrin", "Retired cartographer with a map for every story", ["historical", "mentor"], None),
    ("Sable", "Night-shift radio host who takes your calls", ["modern", "mystery", "music"],
     ((30, 30, 60), (190, 150, 120), (150, 60, 60))),
    ("Tamsin", "Your neighbour's cat, somehow able to talk", ["comedy", "cozy"],
     ((200, 160, 90), (240, 220, 200), (120, 90, 60))),
    ("Kestrel", "Sky-pirate navigator with a price on her head", ["fantasy", "adventure"], None),
    ("Wren", "Librarian of a library that is bigger inside", ["mystery", "cozy", "fantasy"],
     ((90, 70, 120), (220, 180, 150), (70, 90, 60))),
]
made = {{}}
for name, tagline, tags, colours in PEOPLE:
    persona = Persona(name=name, tagline=tagline, tags=tags, appearance="adult, " + tagline.lower(),
                      greeting=f"*looks up and smiles* Evening, {{{{user}}}}. I'm {{name}}.")
    if colours:
        persona.portrait.save(name.lower() + ".png", portrait(*colours), save=False)
    persona.save()
    made[name] = persona

mira = made["Mira"]
conversation = services.conversation_start(owner=alice, persona=mira)
def say(text, reply):
    user_message, _, opened = services.exchange_begin(conversation=conversation, text=text, client_id="")
    services.reply_finish(message_id=opened.pk, content=reply, status="complete")
say("The storm kept me up all night. Is the lamp still lit?",
    "*sets down the kettle* It is. The lamp has not gone dark in forty years, and it will not start tonight. "
    "Come up the stairs and watch the waves with me.")
say("A-very-long-unbroken-token-that-never-ends-" * 3, "*laughs* That is a mouthful, even for a lighthouse keeper.")
say("Tell me about the first storm you remember.",
    "**The winter of the long tide.** The sea came over the rail and took the old boathouse. "
    "*her hand tightens on the mug* I swore that night that I would keep this light.")
services.conversation_start(owner=alice, persona=made["Vale"])

now = timezone.now()
RelationshipState.objects.create(user=alice, persona=mira, stage="acquaintance", affinity=0.22, trust=0.14,
                                 exchanges=7, first_met_at=now - datetime.timedelta(days=3), last_exchange_at=now)
Milestone.objects.create(user=alice, persona=mira, kind="first_meeting", title="First conversation",
                         happened_at=now - datetime.timedelta(days=3))
Milestone.objects.create(user=alice, persona=mira, kind="stage_change", title="Became acquaintances",
                         happened_at=now - datetime.timedelta(days=1))
for kind, text in (("fact", "The user's name is Ally."), ("preference", "Ally loves watching storms."),
                   ("event", "Ally stayed up all night during the storm.")):
    Memory.objects.create(user=alice, persona=mira, conversation=conversation, kind=kind, importance=0.7, text=text)
print("CONVERSATION", conversation.pk)
print("PERSONAS", mira.pk, mira.slug)
"""


# --- the served app ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    env = {
        "LLM_BACKEND": "tests.web.browser_backend.SlowEchoBackend",
        "RENDER_WIDTH": "426",
        "RENDER_HEIGHT": "240",
        "RENDER_RATE_LIMIT": "100/m",
    }
    with served_app(tmp_path_factory.mktemp("ui-browser"), seed=SEED, env=env) as app:
        yield app


@pytest.fixture(scope="module")
def browser(server):
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _context(browser, *, size: str = "desktop", theme: str = "light", **kwargs):
    phone = size == "phone"
    context = browser.new_context(
        viewport=SIZES[size], color_scheme=theme, is_mobile=phone, has_touch=phone,
        device_scale_factor=2 if phone else 1, reduced_motion="reduce", **kwargs,
    )
    context.set_default_timeout(30_000)
    return context


def _page(context, server, user: str | None = "alice"):
    page = context.new_page()
    page.errors = []  # script errors, and anything the Content-Security-Policy blocked
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: page.errors.append(m.text) if "Content Security Policy" in m.text else None)
    if user == "alice":
        log_in(page, server.url)
    elif user == "root":
        page.goto(f"{server.url}/admin/login/")
        page.get_by_label("Username").fill("root")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{server.url}/admin/")
    return page


def _until(page, expression: str, arg=None, timeout_s: float = 30):
    """Poll ``expression`` (a JS function, may be async) in the page until it is truthy.

    Not ``page.wait_for_function``: that compiles its predicate with ``new Function`` in the
    page, which the app's Content-Security-Policy (no 'unsafe-eval') forbids.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(expression, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        page.wait_for_timeout(100)


def _csrf(page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")


def _render(page, server, message_id: int, duration_s: float = 2.0) -> dict:
    """Evolve a message through the REST API and wait until its clip exists."""
    response = page.request.post(
        f"{server.url}/api/evolve/jobs/",
        data=json.dumps({"message_id": message_id, "direction": {"duration_s": duration_s}}),
        headers={"Content-Type": "application/json", "X-CSRFToken": _csrf(page), "Referer": server.url},
    )
    assert response.status in (200, 201), response.text()
    job = response.json()
    deadline = time.monotonic() + 120
    while job["status"] not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline, job
        time.sleep(0.3)
        job = page.request.get(f"{server.url}/api/evolve/jobs/{job['id']}/").json()
    assert job["status"] == "succeeded", job
    return job


def _persona_message_ids(page, server) -> list[int]:
    data = page.request.get(f"{server.url}/api/conversations/{server.conversation_id}/messages/").json()
    rows = data["results"] if isinstance(data, dict) else data
    return [m["id"] for m in rows if m["role"] == "persona" and m["kind"] == "text"]


@pytest.fixture(scope="module")
def clips(browser, server) -> list[dict]:
    """Two clips in Alice's conversation with Mira (rendered by the real previz worker)."""
    context = _context(browser)
    try:
        page = _page(context, server)
        ids = _persona_message_ids(page, server)
        return [_render(page, server, ids[-1], 2.0), _render(page, server, ids[1], 1.5)]
    finally:
        context.close()


def _open_chat(page, server, hash_: str = "") -> None:
    page.goto(f"{server.url}/conversations/{server.conversation_id}/{hash_}")
    page.wait_for_selector("#connection-status[data-state=open]")


# --- axe-core on every page, both themes, both sizes (and the screenshots) --------------------

AXE = axe_api.Axe()
AXE_OPTIONS = {"resultTypes": ["violations"]}
BLOCKING = {"serious", "critical"}


def _axe(page, what: str) -> list[str]:
    """Serious/critical violations on the page as it is now (the report lists the nodes)."""
    page.wait_for_load_state("load")
    page.wait_for_timeout(150)  # settle transitions (reduced motion keeps them at ~0)
    results = AXE.run(page, options=AXE_OPTIONS).response
    found = []
    text = page.locator("body").inner_text()
    if "{#" in text or "{%" in text:  # template syntax shown as text (a two-line {# #}); {{user}} is content
        found.append(f"{what}: template syntax in the page text")
    for violation in results["violations"]:
        if violation["impact"] in BLOCKING:
            targets = [" ".join(map(str, n["target"])) + ": " + n.get("failureSummary", "")[:160]
                       for n in violation["nodes"][:4]]
            found.append(f"{what}: {violation['id']} ({violation['impact']}) {violation['help']} -> {targets}")
    return found


def _shot(page, name: str, size: str, theme: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}-{size}-{theme}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 8_000, f"{path.name} looks blank"
    if os.environ.get("UPDATE_SCREENSHOTS"):  # refresh docs/screenshots on purpose only
        SHOTS.mkdir(parents=True, exist_ok=True)
        from PIL import Image

        with Image.open(path) as image:  # 256 colours: a tenth of the size, still sharp for UI
            image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)\
                .save(SHOTS / path.name, optimize=True)  # fmt: skip


def _error_page(page, server, template: str) -> None:
    """400/500/CSRF pages are rendered by Django without a request: serve that HTML at a URL of the app."""
    html = render_to_string(template)
    url = f"{server.url}/__error__/{template}"
    page.route(url, lambda route: route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html))
    page.goto(url)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("theme", THEMES)
def test_every_page_passes_axe_and_is_photographed(browser, server, clips, size, theme, tmp_path):
    found: list[str] = []
    context = _context(browser, size=size, theme=theme)
    try:
        anonymous = _page(context, server, user=None)
        for path in ("/", "/login/", "/signup/", "/static/offline.html"):
            anonymous.goto(f"{server.url}{path}")
            found += _axe(anonymous, f"anonymous {path}")
        for template in ("400.html", "500.html", "403_csrf.html"):
            _error_page(anonymous, server, template)
            found += _axe(anonymous, template)
        anonymous.goto(f"{server.url}/admin/login/")
        found += _axe(anonymous, "admin login")
        anonymous.close()

        page = _page(context, server)
        assert page.evaluate("document.documentElement.dataset.theme") == "auto"
        scheme = page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
        assert scheme == (theme == "dark")
        for path in ("/", "/?archived=1", "/account/", "/account/delete/", "/personas/?q=mentor"):
            page.goto(f"{server.url}{path}")
            found += _axe(page, path)

        page.goto(f"{server.url}/personas/")
        page.locator(".persona-card .portrait").first.wait_for()
        _until(
            page,
            "[...document.querySelectorAll('img.portrait')]"
            ".filter(i => i.getBoundingClientRect().top < innerHeight).every(i => i.complete && i.naturalWidth)"
        )
        found += _axe(page, "gallery")
        _shot(page, "gallery", size, theme, tmp_path)
        if size == "phone":  # the menu, open
            page.get_by_role("button", name="Menu").click()
            found += _axe(page, "gallery with the menu open")
            page.keyboard.press("Escape")

        page.goto(f"{server.url}/account/")
        found += _axe(page, "account")
        _shot(page, "account", size, theme, tmp_path)

        page.goto(f"{server.url}/conversations/999999/")
        assert page.locator(".error-code").inner_text() == "404"
        found += _axe(page, "404")
        _shot(page, "404", size, theme, tmp_path)

        clip_id = max(_clip_message_ids(page, server))
        _open_chat(page, server, f"#message-{clip_id}")
        clip = page.locator(f".message[data-message-id='{clip_id}']")
        clip.locator("video").wait_for()
        _until(page, "v => v.readyState >= 2", arg=clip.locator("video").element_handle())
        found += _axe(page, "chat")
        _shot(page, "chat", size, theme, tmp_path)

        page.get_by_role("button", name="Memory", exact=True).click()
        _until(page, "() => !document.querySelector('#memory-stage').textContent.startsWith('…')")
        page.locator("#memory-list .memory-item").first.wait_for()
        found += _axe(page, "chat with the memory panel")
        _shot(page, "chat-memory", size, theme, tmp_path)
        page.keyboard.press("Escape")

        greeting = page.locator(".message[data-role=persona][data-kind=text]").first
        greeting.get_by_role("button", name="✦ Evolve").click()
        page.locator("#evolve-dialog fieldset:not([disabled])").wait_for()
        found += _axe(page, "chat with the Evolve dialog")
        page.keyboard.press("Escape")
        assert page.errors == [], page.errors
        page.close()

        admin = _page(context, server, user="root")
        found += _axe(admin, "admin index")
        admin.goto(f"{server.url}/admin/personas/persona/")
        found += _axe(admin, "admin persona list")
        admin.get_by_role("link", name="Mira", exact=True).click()
        admin.locator(".persona-portrait-preview").wait_for()
        _until(admin, "() => document.querySelector('.persona-portrait-preview').naturalWidth > 0")
        found += _axe(admin, "admin persona edit")
        _shot(admin, "admin-persona", size, theme, tmp_path)
    finally:
        context.close()
    assert not found, "\n".join(found)


def _clip_message_ids(page, server) -> list[int]:
    data = page.request.get(f"{server.url}/api/conversations/{server.conversation_id}/messages/").json()
    rows = data["results"] if isinstance(data, dict) else data
    return [m["id"] for m in rows if m["kind"] == "clip"]


# --- the theme toggle -------------------------------------------------------------------------


def test_theme_toggle_is_kept_and_overrides_the_system(browser, server):
    context = _context(browser, theme="light")
    try:
        page = _page(context, server)
        page.goto(f"{server.url}/personas/")
        background = "getComputedStyle(document.body).backgroundColor"
        light = page.evaluate(background)
        toggle = page.locator("[data-theme-toggle]").first
        assert toggle.inner_text().strip() == "Theme: system"
        toggle.click()  # system -> light -> dark
        toggle.click()
        assert toggle.inner_text().strip() == "Theme: dark"
        _until(page, f"() => {background} !== {json.dumps(light)}")
        page.reload()  # the server renders the choice (no flash), from the cookie
        html = page.request.get(f"{server.url}/personas/").text()
        assert '<html lang="en" data-theme="dark">' in html
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        # The admin follows the same choice.
        admin = _page(context, server, user="root")
        assert admin.evaluate("document.documentElement.dataset.theme") == "dark"
        assert admin.evaluate(background) == page.evaluate(background)
        # The account page's radios keep it too (without JavaScript this form posts it).
        page.goto(f"{server.url}/account/")
        page.get_by_label("System").check()
        assert page.evaluate("document.documentElement.dataset.theme") == "auto"
        _until(page, f"() => {background} === {json.dumps(light)}")
    finally:
        context.close()


# --- a clip ready in a background tab ---------------------------------------------------------

VISIBILITY_SWITCH = """
(() => {
  let hidden = false;
  Object.defineProperty(Document.prototype, "visibilityState",
                        {configurable: true, get: () => hidden ? "hidden" : "visible"});
  Object.defineProperty(Document.prototype, "hidden", {configurable: true, get: () => hidden});
  window.__setHidden = (value) => { hidden = value; document.dispatchEvent(new Event("visibilitychange")); };
  window.__frames = [];
  document.addEventListener("companion:frame", (e) => window.__frames.push(e.detail));
})();
"""


def _notifications(page) -> list[dict]:
    return page.evaluate(
        "async () => (await (await navigator.serviceWorker.ready).getNotifications())"
        ".map(n => ({title: n.title, body: n.body, url: n.data && n.data.url, tag: n.tag}))"
    )


def _evolve_last_reply(page, seconds: str = "1.5") -> None:
    reply = page.locator(".message[data-role=persona][data-kind=text]").last
    reply.get_by_role("button", name="✦ Evolve").click()
    dialog = page.locator("#evolve-dialog")
    dialog.locator("fieldset:not([disabled])").wait_for()
    dialog.get_by_label("Seconds").fill(seconds)
    dialog.get_by_role("button", name="Render").click()


def test_a_clip_ready_in_a_background_tab_badges_and_notifies(browser, server, clips):
    context = _context(browser)
    context.grant_permissions(["notifications"], origin=server.url)
    context.add_init_script(VISIBILITY_SWITCH)
    try:
        page = _page(context, server)
        _open_chat(page, server)
        _until(page, "async () => !!(await navigator.serviceWorker.ready).active")
        if not page.evaluate("!!navigator.serviceWorker.controller"):
            _open_chat(page, server)  # the first visit installs the worker; it controls the page from the next
        assert page.evaluate("!!navigator.serviceWorker.controller")
        title = page.title()
        favicon = "document.querySelector('link[rel=icon][data-badge-href]').getAttribute('href')"
        plain_icon = page.evaluate(favicon)

        # In front: the clip arrives, nothing else happens.
        before = len(_clip_message_ids(page, server))
        _evolve_last_reply(page)
        _until(page, "window.__frames.some(f => f.type === 'render.done')", timeout_s=120)
        _until(page, f"document.querySelectorAll('.message[data-kind=clip]').length > {before}")
        assert page.title() == title and page.evaluate(favicon) == plain_icon
        assert _notifications(page) == []

        # In the background: the title counts it, the favicon has a dot, a notification links to the clip.
        page.evaluate("window.__frames = []")
        _evolve_last_reply(page)
        _until(page, "window.__frames.some(f => f.type === 'render.progress')", timeout_s=60)
        page.evaluate("window.__setHidden(true)")
        _until(page, "window.__frames.some(f => f.type === 'render.done')", timeout_s=120)
        done = page.evaluate("window.__frames.find(f => f.type === 'render.done')")
        _until(page, "t => document.title !== t", arg=title)
        assert page.title() == f"(1) Mira's scene is ready · {title}"
        assert page.evaluate(favicon).endswith("favicon-badge.svg")
        _until(
            page,
            "async () => (await (await navigator.serviceWorker.ready).getNotifications()).length > 0"
        )
        [shown] = _notifications(page)
        assert shown["title"] == "Mira's scene is ready"
        clip_url = f"{server.url}/conversations/{server.conversation_id}/#message-{done['clip_message_id']}"
        assert shown["url"] == clip_url
        assert page.locator("#chat-announcer").inner_text().strip().endswith("Mira's scene is ready.")

        # Back in front: the badge goes.
        page.evaluate("window.__setHidden(false)")
        assert page.title() == title and page.evaluate(favicon) == plain_icon

        # The notification's link opens the conversation at the clip.
        other = _page(context, server, user=None)  # same session
        other.goto(shown["url"])
        target = other.locator(f".message[data-message-id='{done['clip_message_id']}']")
        target.wait_for()
        _until(other, "() => document.activeElement && document.activeElement.dataset.kind === 'clip'")
        assert "is-target" in target.get_attribute("class")
        other.wait_for_timeout(1500)  # the video learns its size, the socket's history arrives: still in view
        box, height = target.bounding_box(), other.viewport_size["height"]
        assert box["y"] >= 0 and box["y"] < height, box
        assert page.errors == [] and other.errors == []
    finally:
        context.close()


def test_notifications_are_offered_from_a_click_and_not_nagged(browser, server, clips):
    context = _context(browser)
    try:
        page = _page(context, server)
        _open_chat(page, server)
        if page.evaluate("Notification.permission") != "default":
            pytest.skip("this Chromium answers notification permission without asking")
        page.evaluate("document.dispatchEvent(new CustomEvent('companion:frame', {detail: {type: 'render.queued'}}))")
        offer = page.get_by_role("region", name="Notifications")
        offer.get_by_role("button", name="Notify me").wait_for()
        offer.get_by_role("button", name="Not now").click()
        assert offer.count() == 0
        assert page.evaluate("document.activeElement.id") == "composer-text"
        page.evaluate("document.dispatchEvent(new CustomEvent('companion:frame', {detail: {type: 'render.queued'}}))")
        assert page.get_by_role("region", name="Notifications").count() == 0  # "Not now" is remembered
    finally:
        context.close()


# --- installable: manifest, icons, service worker (app shell only) ----------------------------


def test_installable_and_the_worker_caches_no_conversation(browser, server, clips):
    from PIL import Image

    context = _context(browser)
    try:
        page = _page(context, server)
        _open_chat(page, server)
        manifest_url = page.evaluate("document.querySelector('link[rel=manifest]').href")
        manifest = page.request.get(manifest_url)
        assert manifest.ok and manifest.headers["content-type"].startswith("application/manifest+json")
        data = manifest.json()
        assert data["name"] == "Companion" and data["start_url"] == "/" and data["display"] == "standalone"
        sizes = {}
        for icon in data["icons"]:
            response = page.request.get(f"{server.url}{icon['src']}")
            assert response.ok, icon
            if icon["type"] == "image/png":
                with Image.open(io.BytesIO(response.body())) as image:
                    assert f"{image.width}x{image.height}" == icon["sizes"], icon
                sizes.setdefault(icon["purpose"], set()).add(icon["sizes"])
        assert {"192x192", "512x512"} <= sizes["any"] and "512x512" in sizes["maskable"]

        worker = page.request.get(f"{server.url}/sw.js")
        assert worker.ok and "javascript" in worker.headers["content-type"]
        assert worker.headers["service-worker-allowed"] == "/"
        _until(page, "async () => !!(await navigator.serviceWorker.ready).active")
        scope = page.evaluate("async () => (await navigator.serviceWorker.ready).scope")
        assert scope == f"{server.url}/"
        _open_chat(page, server)  # now controlled by the worker
        page.goto(f"{server.url}/personas/")
        cached = page.evaluate(
            "async () => { const out = []; for (const k of await caches.keys()) {"
            " for (const r of await (await caches.open(k)).keys()) out.push(new URL(r.url).pathname); } return out; }"
        )
        assert "/static/css/app.css" in cached and "/static/offline.html" in cached
        shell = [path for path in cached if path.startswith("/static/") or path == "/manifest.webmanifest"]
        assert shell == cached, cached  # no page, API answer, clip or portrait

        context.set_offline(True)
        page.goto(f"{server.url}/conversations/{server.conversation_id}/")
        assert page.title() == "Offline · Companion"
        assert page.locator("#messages").count() == 0
        context.set_offline(False)
    finally:
        context.close()


# --- phones: the chat page ---------------------------------------------------------------------


def test_chat_on_a_phone(browser, server, clips):
    context = _context(browser, size="phone")
    try:
        page = _page(context, server)
        _open_chat(page, server)
        width, height = SIZES["phone"]["width"], SIZES["phone"]["height"]
        # One header row.
        head = page.locator(".chat-head").bounding_box()
        assert head["height"] <= 64, head
        assert page.locator(".chat-head h1").bounding_box()["y"] < head["y"] + head["height"]
        assert page.locator("#memory-toggle").bounding_box()["y"] < head["y"] + head["height"]
        # Composer at the bottom of the visible viewport; with the keyboard up (a shorter visual viewport) too.
        composer = page.locator("#composer").bounding_box()
        assert abs(composer["y"] + composer["height"] - height) <= 1, composer
        page.set_viewport_size({"width": width, "height": 500})
        _until(
            page,
            "() => getComputedStyle(document.documentElement).getPropertyValue('--app-height') === '500px'"
        )
        composer = page.locator("#composer").bounding_box()
        assert abs(composer["y"] + composer["height"] - 500) <= 1, composer
        page.set_viewport_size(SIZES["phone"])
        # Nothing scrolls sideways: long words, clips, actions.
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0
        wide = page.evaluate(
            "() => [...document.querySelectorAll('.message, .message *')]"
            ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.className)"
        )
        assert wide == []
        # Every action under a clip is one height (Download link, Remix, for reel, buttons).
        clip = page.locator(".message[data-kind=clip]").last
        heights = clip.locator(".message-actions").evaluate(
            "box => [...box.querySelectorAll('button, a, summary, label.reel-pick')]"
            ".filter(e => e.offsetParent && !e.closest('.remix-form'))"
            ".map(e => Math.round(e.getBoundingClientRect().height))"
        )
        assert len(heights) >= 3 and len(set(heights)) == 1, heights

        # The reel sheet: appears with the picks, closes once the reel is queued (a toast says so).
        picks = page.locator(".message[data-kind=clip] .reel-pick input")
        picks.nth(0).check()
        picks.nth(1).check()
        sheet = page.get_by_role("region", name="Make a reel")
        assert sheet.is_visible()
        box = sheet.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width and box["y"] + box["height"] <= height + 1
        sheet.get_by_role("button", name="Make reel").click()
        page.locator(".toast", has_text="Reel queued").wait_for()
        assert sheet.is_hidden()
        assert page.errors == []
    finally:
        context.close()


def test_gallery_grid_search_tags_sort_and_continue(browser, server):
    for size, columns in (("phone", {1}), ("desktop", {5})):
        context = _context(browser, size=size)
        try:
            page = _page(context, server)
            page.goto(f"{server.url}/personas/")
            lefts = page.locator(".persona-card").evaluate_all("cs => new Set(cs.map(c => c.offsetLeft)).size")
            assert {lefts} == columns, (size, lefts)
            assert page.locator(".persona-card").count() == 8
            # Buttons never wrap.
            for button in page.locator(".persona-actions :is(a, button)").all():
                assert button.evaluate("b => b.scrollHeight <= b.clientHeight + 1 && getComputedStyle(b).whiteSpace")\
                    == "nowrap"  # fmt: skip
        finally:
            context.close()
    context = _context(browser)
    try:
        page = _page(context, server)
        page.goto(f"{server.url}/personas/")
        names = lambda: page.locator(".persona-card:not([hidden]) h2").all_inner_texts()  # noqa: E731
        assert set(names()[:2]) == {"Vale", "Mira"}  # recent: the ones talked to first
        page.get_by_label("Search by name or tag").fill("mentor")
        assert sorted(names()) == ["Juniper", "Mira", "Orrin"]
        assert page.locator("#gallery-count").inner_text() == "3 of 8 personas"
        page.get_by_label("Search by name or tag").fill("")
        page.get_by_role("link", name="cozy", exact=True).click()
        assert sorted(names()) == ["Juniper", "Tamsin", "Wren"]
        assert "tag=cozy" in page.url
        page.get_by_role("link", name="All", exact=True).click()
        page.get_by_label("Sort by").select_option("name")
        assert names() == sorted(names())
        page.reload()  # the address holds the state; the server agrees
        assert names() == sorted(names()) and page.get_by_label("Sort by").input_value() == "name"
        # Continue chat: Mira's card goes to the existing conversation.
        card = page.locator(".persona-card[data-persona='mira']")
        card.get_by_role("link", name="Continue chat with Mira").click()
        page.wait_for_url(f"**/conversations/{server.conversation_id}/")
    finally:
        context.close()


# --- keyboard, dialogs, the live region, the relationship in words ----------------------------


def test_keyboard_dialogs_live_region_and_relationship_words(browser, server, clips):
    context = _context(browser, size="phone")
    try:
        page = _page(context, server)
        _open_chat(page, server)
        assert page.locator("#messages").get_attribute("aria-live") is None  # no token-by-token reading
        # The menu: opens from the keyboard, Escape closes it and gives focus back.
        menu = page.get_by_role("button", name="Menu")
        menu.focus()
        page.keyboard.press("Enter")
        assert menu.get_attribute("aria-expanded") == "true"
        assert page.get_by_role("link", name="Personas").is_visible()
        page.keyboard.press("Escape")
        assert menu.get_attribute("aria-expanded") == "false"
        assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Menu"
        # Memory: focus moves in, Escape closes, focus returns to the button.
        toggle = page.get_by_role("button", name="Memory", exact=True)
        toggle.focus()
        page.keyboard.press("Enter")
        _until(page, "() => document.activeElement.id === 'memory-close'")
        _until(page, "() => !document.querySelector('#memory-stage').textContent.startsWith('…')")
        stage = page.locator("#memory-stage")
        summary = page.locator("#memory-rel-summary")
        assert stage.inner_text().startswith("Acquaintance")
        assert "stage 2 of 5" in stage.inner_text()
        text = summary.inner_text()
        assert text.startswith("Mira enjoys your company. Trust is starting to grow. You have talked ")
        assert not re.search(r"\d\.\d", stage.inner_text() + text)  # no raw scores in the text...
        scores = summary.get_attribute("title")  # ...only on hover
        assert re.fullmatch(r"affinity 0\.\d\d · trust 0\.\d\d · \d+ exchanges", scores), scores
        assert page.locator("#memory-timeline li").count() == 2
        page.keyboard.press("Escape")
        assert page.locator("#memory-panel").is_hidden()
        assert page.evaluate("document.activeElement.id") == "memory-toggle"
        # The Evolve dialog: Escape closes it, focus returns to its button.
        greeting = page.locator(".message[data-role=persona][data-kind=text]").first
        evolve = greeting.get_by_role("button", name="✦ Evolve")
        evolve.focus()
        page.keyboard.press("Enter")
        page.locator("#evolve-dialog fieldset:not([disabled])").wait_for()
        page.keyboard.press("Escape")
        assert not page.locator("#evolve-dialog").evaluate("d => d.open")
        assert page.evaluate("document.activeElement.classList.contains('evolve-button')")
        # A reply is announced once it is finished, not token by token.
        box = page.get_by_label("Message to Mira")
        box.focus()
        page.keyboard.type("hello from the keyboard")
        page.keyboard.press("Enter")
        page.wait_for_selector(".message[data-role=persona][data-status=streaming]")
        assert "hello from the keyboard" not in page.locator("#chat-announcer").inner_text()
        page.locator(".message[data-role=persona][data-status=complete]", has_text="You said: hello from").wait_for()
        _until(page, "() => document.querySelector('#chat-announcer').textContent.includes('You said')")
        lines = page.locator("#chat-announcer p").all_inner_texts()
        assert lines[-1] == "Mira: You said: hello from the keyboard"
        assert page.errors == []
    finally:
        context.close()
