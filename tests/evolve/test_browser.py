"""Evolve in real headless Chromium against `manage.py serve` (Daphne + the in-process render worker).

Click Evolve on the persona's greeting, edit the beat in the refine dialog,
render, see the progress bar fed by render.progress frames, then the clip
message whose <video> actually plays, with the AI-generated label.
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

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
PASSWORD = "correct horse battery staple"
SEED = f"""
from django.contrib.auth import get_user_model
from companion.chat.services import conversation_start
from personas.models import Persona

user = get_user_model().objects.create_user(username="alice", password={PASSWORD!r})
persona = Persona.objects.create(name="Mira", appearance="adult woman, auburn hair",
    greeting="*smiles and walks toward you along the moonlit beach*")
print("CONVERSATION", conversation_start(owner=user, persona=persona).pk)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    var_dir = tmp_path_factory.mktemp("evolve-browser")
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "companion.settings",
        "COMPANION_VAR_DIR": str(var_dir),
        "MEDIA_ROOT": str(var_dir / "media"),
        "LLM_BACKEND": "scripted",  # no JSON scripted: the extractor's deterministic fallback is used
        "RENDER_WIDTH": "320",
        "RENDER_HEIGHT": "192",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DEBUG": "0",
        "PYTHONPATH": str(ROOT),
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=180)
    seeded = subprocess.run([sys.executable, "manage.py", "shell", "-c", SEED], cwd=ROOT, env=env, check=True,
                            capture_output=True, text=True, timeout=180)
    conversation_id = int(seeded.stdout.split("CONVERSATION")[1].split()[0])
    log = var_dir / "serve.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", f"127.0.0.1:{port}", "--no-demo"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"serve exited early:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/login/", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"serve did not come up:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.3)
        yield url, conversation_id
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_click_evolve_see_progress_and_the_clip_plays(server):
    url, conversation_id = server
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1100, "height": 900})
            context.set_default_timeout(30_000)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{url}/login/")
            page.get_by_label("Username").fill("alice")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{url}/")
            # Record every server frame the page receives.
            page.add_init_script(
                "window.__frames = [];"
                "document.addEventListener('companion:frame', e => window.__frames.push(e.detail));"
            )
            page.goto(f"{url}/conversations/{conversation_id}/")
            page.wait_for_selector("#connection-status[data-state=open]")

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
