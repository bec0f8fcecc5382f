"""Evolve the demo persona's greeting in real headless Chromium, then look at the clip's frames.

The served app (``manage.py serve``: Daphne plus the in-process render worker,
the real CPU previz) holds the demo persona, Mira Vale, whose greeting is a
stormy night in a lighthouse lamp room ("A gust rattles the lamp-room glass.
Mira looks up from a chart pinned flat with four mugs."). The refine dialog
must show that scene (no model: the rules read it); the clip that comes back
is decoded and inspected: it is the previz render of that beat (frame for
frame against a local render of the same beat, which is deterministic per
seed), lightning flashes light it, the spoken line sits in a band the face
never enters, and the persona stays inside the frame in every frame.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from tests.served_app import CHROMIUM, PASSWORD, log_in, served_app
from tests.served_app import CHROMIUM_ARGS as BASE_CHROMIUM_ARGS

playwright_api = pytest.importorskip("playwright.sync_api")
av = pytest.importorskip("av")

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

CHROMIUM_ARGS = [*BASE_CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"]
WIDTH, HEIGHT = 426, 240
SEED = f"""
from django.contrib.auth import get_user_model
from companion.chat.services import conversation_start
from personas.demo import ensure_demo_persona

user = get_user_model().objects.create_user(username="alice", password={PASSWORD!r})
print("CONVERSATION", conversation_start(owner=user, persona=ensure_demo_persona()).pk)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    env = {"RENDER_WIDTH": str(WIDTH), "RENDER_HEIGHT": str(HEIGHT), "RENDERER": "previz"}
    with served_app(tmp_path_factory.mktemp("evolve-scene"), seed=SEED, env=env) as app:
        yield app.url, app.conversation_id


def _decode(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def test_evolving_the_demo_greeting_shows_the_stormy_lamp_room(server, tmp_path):
    url, conversation_id = server
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1100, "height": 900})
            context.set_default_timeout(60_000)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(f"{e}: {e.stack}"))
            log_in(page, url)
            page.goto(f"{url}/conversations/{conversation_id}/")
            page.wait_for_selector("#connection-status[data-state=open]")

            greeting = page.locator(".message[data-role=persona][data-kind=text]").first
            assert "lamp-room glass" in greeting.inner_text()
            greeting.get_by_role("button", name="✦ Evolve").click()
            dialog = page.locator("#evolve-dialog")
            dialog.locator("fieldset:not([disabled])").wait_for()
            setting = dialog.get_by_label("Setting").input_value()
            assert "lamp room" in setting and "lighthouse" in setting
            assert dialog.get_by_label("Lighting").input_value() == "rainy_night"  # a stormy night, not daylight
            action = dialog.get_by_label("Action").input_value()
            assert "looks up from a chart" in action and "Mind the ink" not in action  # narration, not speech
            dialog.get_by_label("Seconds").fill("3")
            dialog.get_by_role("button", name="Render").click()

            clip = page.locator(".message[data-kind=clip]")
            clip.locator("video").wait_for(timeout=120_000)
            assert "chart" in clip.locator(".caption").inner_text()
            src = clip.locator("video").get_attribute("src")
            job_id = src.strip("/").split("/")[-2]
            job = page.request.get(f"{url}/api/evolve/jobs/{job_id}/").json()
            video = page.request.get(f"{url}{src}" if src.startswith("/") else src).body()
        finally:
            browser.close()

    beat = job["beat"]
    assert (beat["time_of_day"], beat["weather"], beat["lighting"]) == ("night", "storm", "rainy_night")
    assert {"chart", "four mugs"} <= set(beat["props"]) and beat["speech"].startswith("Mind the ink")
    frames = _decode(video)
    assert frames.shape[1:] == (HEIGHT, WIDTH, 3) and len(frames) == 48  # 3 s at 16 fps

    from personas.portrait_art import draw_portrait
    from rendering.beat import SceneBeat
    from rendering.renderers.base import RenderContext
    from rendering.renderers.previz import PrevizRenderer, previz_plan

    portrait = tmp_path / "mira-vale.png"
    portrait.write_bytes(draw_portrait("mira-vale"))  # the demo portrait is drawn deterministically
    ctx = RenderContext(job_id="local", beat=SceneBeat.model_validate(beat), persona_id=1, persona_name="Mira Vale",
                        portrait_path=str(portrait), width=WIDTH, height=HEIGHT, fps=16)
    plan = previz_plan(ctx)
    local = np.stack(list(PrevizRenderer().render(ctx, lambda *a: None, lambda: False).frames))
    # the served clip is this render (H.264 only blurs it a little)
    mse = ((frames.astype(float) - local.astype(float)) ** 2).mean()
    assert 10 * np.log10(255**2 / mse) > 28

    assert plan.kit == "lamp_room" and {"rain", "lightning", "subtitle"} <= set(plan.layers)
    assert plan.props.get("mug") == 4 and "chart" in plan.props
    brightness = frames.reshape(len(frames), -1).mean(axis=1)
    assert brightness.max() > np.median(brightness) + 12  # lightning lights the room
    for place in plan.subject:  # the persona inside the frame, her face clear of the subtitle band
        assert place.box.inside(WIDTH, HEIGHT, 0.02 * HEIGHT)
        assert not place.face.overlaps_rows(*plan.band)
    top, bottom = plan.band
    band = frames[:, top:bottom].astype(int)
    assert band.mean() < frames.astype(int).mean()  # a dark band...
    assert (band.min(axis=3) > 200).sum(axis=(1, 2)).min() > 15  # ...with the spoken line in white in every frame
    assert errors == []  # and the page raised nothing meanwhile
