"""Production shape: RedisBroker and a real `manage.py rundramatiq --queues render` worker process.

Web side and worker share a file SQLite database; the requester runs in its
own process too, because this test process is wired to the stub broker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rendering import encode, labelling

pytestmark = [pytest.mark.redis, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]

REQUEST = r"""
import json, time
from django.contrib.auth import get_user_model
from django.db import transaction
from personas.models import Persona
from rendering.services import render_job_request
from rendering.beat import SceneBeat
user = get_user_model().objects.create_user("redis-user", password="pw-redis-123")
persona = Persona.objects.create(name="Mira")
beat = SceneBeat(setting="a lake at dawn", action="Mira skims a stone", camera="pan_right",
                 lighting="golden_hour", duration_s=1.0, seed=3)
with transaction.atomic():
    job, _ = render_job_request(persona=persona, beat=beat, requested_by=user, source="t", idempotency_key="r1")
deadline = time.monotonic() + 90
while time.monotonic() < deadline:
    job.refresh_from_db()
    if job.is_finished:
        break
    time.sleep(0.1)
print("RESULT " + json.dumps({"status": job.status, "clip": job.clip.path if job.clip else "",
      "attempts": job.attempts, "error": job.error_detail, "labels": job.labels}))
"""


def test_redis_worker_process_renders_a_job(redis_url, tmp_path):
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "COMPANION_VAR_DIR": str(tmp_path / "var"),
        "RENDER_WIDTH": "96",
        "RENDER_HEIGHT": "64",
        "TASKS_IN_PROCESS": "0",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=180)
    worker = subprocess.Popen(
        [py, "manage.py", "rundramatiq", "--queues", "render", "--processes", "1", "--threads", "1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        done = subprocess.run([py, "manage.py", "shell", "-c", REQUEST], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=150)
        line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
        assert line, done.stdout + done.stderr
        result = json.loads(line.removeprefix("RESULT "))
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    assert result["status"] == "succeeded", (result, worker.stdout.read().decode()[-3000:])
    assert result["attempts"] == 1 and result["labels"]["c2pa"] is True
    info = encode.probe(result["clip"])
    assert info["frames"] == 16 and (info["width"], info["height"]) == (96, 64)
    assert labelling.read_manifest(result["clip"])["actions"][0]["action"] == "c2pa.created"
