"""Fixtures for the rendering tests: personas, small render settings, a real Dramatiq worker, the tiny Wan pipeline."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from django.contrib.auth import get_user_model

from personas.models import Persona
from rendering.beat import SceneBeat
from rendering.renderers import reset_renderer
from rendering.signals import job_updated
from tests.workers import running_worker

torch.set_num_threads(1)  # the machine is shared; more threads only add contention for tiny models


@pytest.fixture(autouse=True)
def small_renders(settings, tmp_path):
    """Small frames keep the suite fast; tests that check the real 854x480 size ask for it."""
    settings.RENDER_WIDTH, settings.RENDER_HEIGHT, settings.RENDER_FPS = 128, 72, 16
    settings.RENDER_MIN_BACKOFF_MS = 10
    settings.RENDER_MAX_RETRIES = 2
    settings.VAR_DIR = tmp_path / "var"
    settings.VAR_DIR.mkdir()
    reset_renderer()
    yield
    reset_renderer()


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("ren", password="pw-render-123")


@pytest.fixture
def persona(db):
    return Persona.objects.create(name="Mira", appearance="adult woman, 30s, short black hair, green eyes")


def make_beat(**overrides) -> SceneBeat:
    fields = {
        "setting": "a rooftop bar in the city at night",
        "characters": [{"name": "Mira", "description": "adult woman, short black hair", "is_persona": True}],
        "action": "Mira raises her glass and laughs",
        "camera": "dolly_in",
        "lighting": "neon",
        "mood": "playful",
        "duration_s": 1.0,
        "prompt": "Mira on a neon rooftop raising a glass",
        "seed": 7,
    }
    fields.update(overrides)
    return SceneBeat.model_validate(fields)


@pytest.fixture
def beat() -> SceneBeat:
    return make_beat()


@pytest.fixture
def events():
    """(job id, event, phase) for every job_updated signal, in order."""
    seen: list[tuple[str, str, str]] = []

    def receiver(sender, job, event, **kwargs):
        seen.append((str(job.id), event, job.phase))

    job_updated.connect(receiver, weak=False)
    yield seen
    job_updated.disconnect(receiver)


@pytest.fixture
def worker(transactional_db):
    """A real dramatiq.Worker on the configured (stub) broker, as the embedded default runs it."""
    with running_worker() as w:
        yield w


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def wait_finished(job, timeout: float = 60.0):
    def finished():
        job.refresh_from_db()
        return job.is_finished

    wait_for(finished, timeout)
    return job


@pytest.fixture(scope="session")
def tiny_wan_dir(tmp_path_factory) -> Path:
    from tests.rendering.wan_builder import build_wan_pipeline

    return build_wan_pipeline(tmp_path_factory.mktemp("wan") / "pipe")


def wait_event(events, job, event: str, timeout: float = 10.0) -> list[str]:
    """The job's events once ``event`` has arrived (signals follow the DB write by a moment)."""
    wait_for(lambda: any(jid == str(job.id) and e == event for jid, e, _ in events), timeout)
    return [e for jid, e, _ in events if jid == str(job.id)]


def pytest_terminal_summary(terminalreporter):
    """The safety tables' rates, whenever test_safety_tables ran (shown with or without -s)."""
    import sys

    test_safety_tables = sys.modules.get("tests.rendering.test_safety_tables")
    if test_safety_tables is None or not test_safety_tables.RATES:
        return
    terminalreporter.section("render safety gate")
    for table, (refused, total) in test_safety_tables.RATES.items():
        terminalreporter.write_line(f"{table}: {refused}/{total} = {100 * refused / total:.1f}%")
