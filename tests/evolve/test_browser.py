"""Evolve in real headless Chromium against `manage.py serve` (Daphne + the in-process render worker).

Click Evolve on the persona's greeting, edit the beat in the refine dialog,
render, see the progress bar fed by render.progress frames, then the clip
message whose <video> actually plays, with the AI-generated label.

A render in progress survives a reload (its bar comes back from the page's
#evolve-active-jobs, then live frames continue) and a dropped socket (a job that
finished while away leaves no stale bar: its clip comes with history.sync). The
server renders with the real previz wrapped in tests/evolve/gated_renderer.py,
which holds a render mid-way while a file exists, so these points are reached
deterministically rather than by racing a fast renderer.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.served_app import CHROMIUM, PASSWORD, log_in, served_app
from tests.served_app import CHROMIUM_ARGS as BASE_CHROMIUM_ARGS

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

CHROMIUM_ARGS = [*BASE_CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"]
SEED = f"""
from django.contrib.auth import get_user_model
from companion.chat.services import conversation_start
from personas.models import Persona

user = get_user_model().objects.create_user(username="alice", password={PASSWORD!r})
persona = Persona.objects.create(name="Mira", appearance="adult woman, auburn hair",
    greeting="*smiles and walks toward you along the moonlit beach*")
print("CONVERSATION", conversation_start(owner=user, persona=persona).pk)
"""


@pytest.fixture(scope="module")
def render_hold(tmp_path_factory) -> Path:
    """While this file exists, renders on the test server pause after their first frames."""
    return tmp_path_factory.mktemp("evolve-hold") / "hold"


@pytest.fixture(scope="module")
def server(tmp_path_factory, render_hold):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    env = {
        # No JSON scripted for the chat backend: the extractor's deterministic fallback is used.
        "RENDER_WIDTH": "320",
        "RENDER_HEIGHT": "192",
        "RENDERER": "tests.evolve.gated_renderer.GatedPrevizRenderer",
        "EVOLVE_RENDER_HOLD": str(render_hold),
    }
    with served_app(tmp_path_factory.mktemp("evolve-browser"), seed=SEED, env=env) as app:
        yield app.url, app.conversation_id


def test_click_evolve_see_progress_and_the_clip_plays(server):
    url, conversation_id = server
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1100, "height": 900}, bypass_csp=True)
            context.set_default_timeout(30_000)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            _login_and_open(page, url, conversation_id)

            greeting = page.locator(".message[data-role=persona][data-kind=text]").first
            greeting.get_by_role("button", name="✦ Evolve").click()
            dialog = page.locator("#evolve-dialog")
            dialog.locator("fieldset:not([disabled])").wait_for()
            assert dialog.get_by_label("Setting").input_value() == "moonlit beach"
            assert dialog.get_by_label("Lighting").input_value() == "moonlight"
            dialog.get_by_label("Seconds").fill("3")
            dialog.get_by_role("button", name="Render").click()

            greeting.locator(".render-progress progress").wait_for()
            page.wait_for_function("window.__frames.some(f => f.type === 'render.progress' && f.total > 0)")
            video = page.locator(".message[data-kind=clip] video")
            video.wait_for()
            clip = page.locator(".message[data-kind=clip]")
            assert "moonlit beach" in clip.locator(".caption").inner_text()
            assert clip.locator(".ai-label").inner_text() == "AI-generated · self-signed label"
            assert clip.get_by_role("link", name="Download").count() == 1
            assert greeting.locator(".render-progress").count() == 0  # the bar is gone once done

            page.evaluate("v => { v.muted = true; return v.play(); }", video.element_handle())
            page.wait_for_function("v => v.readyState >= 2 && v.currentTime > 0.2", arg=video.element_handle())
            duration = page.evaluate("v => v.duration", video.element_handle())
            assert abs(duration - 3.0) < 0.2
            assert errors == []
        finally:
            browser.close()


def _login_and_open(page, url: str, conversation_id: int) -> None:
    log_in(page, url)
    # Record every server frame the page receives (init scripts run again after a reload).
    page.add_init_script(
        "window.__frames = [];"
        "document.addEventListener('companion:frame', e => window.__frames.push(e.detail));"
    )
    page.goto(f"{url}/conversations/{conversation_id}/")
    page.wait_for_selector("#connection-status[data-state=open]")


def _evolve_greeting(page, seconds: str) -> str:
    """Evolve the greeting with the dialog's beat; returns the job id once it reports progress."""
    greeting = page.locator(".message[data-role=persona][data-kind=text]").first
    greeting.get_by_role("button", name="✦ Evolve").click()
    dialog = page.locator("#evolve-dialog")
    dialog.locator("fieldset:not([disabled])").wait_for()
    dialog.get_by_label("Seconds").fill(seconds)
    dialog.get_by_role("button", name="Render").click()
    page.wait_for_function("window.__frames.some(f => f.type === 'render.progress' && f.total > 0)")
    return page.evaluate("window.__frames.find(f => f.type === 'render.progress' && f.total > 0).job_id")


def _wait_for_new_clip(page, before: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('.message[data-kind=clip] video').length > n", arg=before, timeout=60_000
    )


def test_the_progress_bar_shows_the_scene_forming_until_the_clip_arrives(server, render_hold):
    url, conversation_id = server
    slow = render_hold.with_name(f"{render_hold.name}.slow")
    slow.touch()  # ~4 s of rendering: several previews, two a second
    try:
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                context = browser.new_context(viewport={"width": 1100, "height": 900}, bypass_csp=True)
                context.set_default_timeout(30_000)
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                _login_and_open(page, url, conversation_id)
                before = page.locator(".message[data-kind=clip] video").count()
                _evolve_greeting(page, "3")
                greeting = page.locator(".message[data-role=persona][data-kind=text]").first
                img = greeting.locator(".render-progress img.render-preview")
                img.wait_for()
                first = img.get_attribute("src")
                assert first.startswith("data:image/jpeg;base64,")
                page.wait_for_function(  # a later preview replaces it while the bar is still there
                    "first => { const i = document.querySelector('.render-progress img.render-preview');"
                    " return i && i.getAttribute('src') !== first; }", arg=first)
                assert page.evaluate("i => [i.naturalWidth, i.naturalHeight]", img.element_handle()) == [160, 96]
                _wait_for_new_clip(page, before)
                assert greeting.locator(".render-progress").count() == 0  # the clip took the preview's place
                types = page.evaluate("window.__frames.map(f => f.type + (f.preview ? '+preview' : ''))")
                assert types.count("render.progress+preview") >= 2
                assert types.index("render.done") > max(i for i, t in enumerate(types) if t.endswith("+preview"))
                assert errors == []
            finally:
                browser.close()
    finally:
        slow.unlink(missing_ok=True)


def test_progress_survives_a_reload_then_the_clip_arrives(server, render_hold):
    url, conversation_id = server
    render_hold.touch()
    try:
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                context = browser.new_context(viewport={"width": 1100, "height": 900}, bypass_csp=True)
                context.set_default_timeout(30_000)
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                _login_and_open(page, url, conversation_id)
                clips_before = page.locator(".message[data-kind=clip]").count()

                job_id = _evolve_greeting(page, "4")  # 4 s at 16 fps: 64 frames; held at frame 2
                greeting = page.locator(".message[data-role=persona][data-kind=text]").first
                greeting.locator(".render-progress progress").wait_for()

                page.reload()
                page.wait_for_selector("#connection-status[data-state=open]")
                greeting = page.locator(".message[data-role=persona][data-kind=text]").first
                bar = greeting.locator(f'.render-progress[data-job-id="{job_id}"]')
                bar.wait_for()
                # Restored from the page itself: the held render sends no frames meanwhile.
                assert page.evaluate("window.__frames.filter(f => f.type.startsWith('render.')).length") == 0
                # ...showing the progress the server recorded for the job (it stores progress throttled).
                job = page.request.get(f"{url}/api/evolve/jobs/{job_id}/").json()
                assert job["status"] == "running" and job["progress_total"] == 64 and job["progress_step"] >= 1
                step = job["progress_step"]
                assert bar.locator(".render-phase").inner_text() == f"Rendering {step}/64"
                assert page.evaluate("b => [b.value, b.max]", bar.locator("progress").element_handle()) == [step, 64]
                assert bar.get_by_role("button", name="Cancel").is_enabled()
                # The reconnect reconciliation (GET /api/evolve/jobs/) keeps it: the job is still running.
                page.wait_for_timeout(500)
                assert bar.count() == 1

                render_hold.unlink()  # let the render finish: live progress continues on the new page
                page.wait_for_function(
                    "id => window.__frames.some(f => f.type === 'render.progress' && f.job_id === id && f.step > 2)",
                    arg=job_id,
                )
                _wait_for_new_clip(page, clips_before)
                assert page.evaluate(
                    "id => window.__frames.some(f => f.type === 'render.done' && f.job_id === id)", job_id
                )
                greeting.locator(".render-progress").wait_for(state="detached")
                assert errors == []
            finally:
                browser.close()
    finally:
        render_hold.unlink(missing_ok=True)


def test_a_render_that_finished_while_disconnected_leaves_no_stale_bar(server, render_hold):
    """The socket is cut (frames from the server dropped, as on a dead network) while the
    render finishes; after the reconnect the clip arrives through history.sync and the
    bar is cleared by the reconciliation, though this page never saw render.done."""
    url, conversation_id = server
    render_hold.touch()
    state = {"drop": False, "routes": []}

    def route(ws) -> None:
        upstream = ws.connect_to_server()
        state["routes"].append(ws)
        ws.on_message(lambda message: upstream.send(message))
        upstream.on_message(lambda message: None if state["drop"] else ws.send(message))

    try:
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                context = browser.new_context(viewport={"width": 1100, "height": 900}, bypass_csp=True)
                context.set_default_timeout(30_000)
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.route_web_socket("**/ws/conversations/**", route)
                _login_and_open(page, url, conversation_id)
                clips_before = page.locator(".message[data-kind=clip]").count()

                job_id = _evolve_greeting(page, "2")
                greeting = page.locator(".message[data-role=persona][data-kind=text]").first
                bar = greeting.locator(f'.render-progress[data-job-id="{job_id}"]')
                bar.wait_for()

                state["drop"] = True  # nothing from the server reaches the page from here on
                render_hold.unlink()
                deadline = time.monotonic() + 60
                while True:  # the render finishes on the server meanwhile
                    job = page.request.get(f"{url}/api/evolve/jobs/{job_id}/").json()
                    if job["status"] == "succeeded":
                        break
                    assert time.monotonic() < deadline, job
                    time.sleep(0.2)
                assert bar.count() == 1  # the page missed render.done: the bar is stale now
                assert page.locator(".message[data-kind=clip]").count() == clips_before

                state["drop"] = False
                state["routes"][-1].close(code=4000, reason="simulated network drop")
                _wait_for_new_clip(page, clips_before)
                bar.wait_for(state="detached")
                assert len(state["routes"]) >= 2  # it really reconnected
                assert not page.evaluate(
                    "id => window.__frames.some(f => f.type === 'render.done' && f.job_id === id)", job_id
                )
                assert greeting.locator(".render-progress").count() == 0
                assert errors == []
            finally:
                browser.close()
    finally:
        render_hold.unlink(missing_ok=True)
