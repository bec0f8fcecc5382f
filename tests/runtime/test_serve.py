"""The README's first command: `manage.py serve` on a fresh install.

Runs the real command in a subprocess with an empty var/ folder, as a new user
would, then logs into the admin with the printed credentials and finds the
demo persona there.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_brings_up_the_embedded_default_with_the_demo_persona(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    env.update(COMPANION_VAR_DIR=str(tmp_path / "var"), PYTHONUNBUFFERED="1", LLM_BACKEND="scripted")
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve", f"127.0.0.1:{port}"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)

        printed = log.read_text()
        login = re.search(r"as (\S+) / (\S+)", printed)
        assert login, printed
        username, password = login.groups()

        with httpx.Client(base_url=base, follow_redirects=True) as client:
            page = client.get("/admin/login/")
            token = client.cookies["csrftoken"]
            done = client.post(
                "/admin/login/?next=/admin/personas/persona/",
                data={"username": username, "password": password, "csrfmiddlewaretoken": token},
                headers={"Referer": f"{base}/admin/login/"},
            )
            assert done.status_code == 200
            assert "Mira Vale" in done.text, page.text[:500]
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_demo_login_is_stable_across_runs(db, settings, tmp_path):
    from companion.accounts.demo import demo_user_ensure

    settings.VAR_DIR = tmp_path
    first = demo_user_ensure()
    second = demo_user_ensure()
    assert first.created and not second.created
    # The password is known (and printed by serve) only when the login is created (issue 11).
    assert first.password and second.password is None
    assert (tmp_path / "demo_password").read_text() == first.password
    assert oct((tmp_path / "demo_password").stat().st_mode & 0o777) == "0o600"
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=first.username)
    assert user.check_password(first.password) and user.is_staff and user.is_superuser
    # A password changed since is kept: a restart does not reset it to the file's.
    user.set_password("changed-by-the-operator-42")
    user.save()
    demo_user_ensure()
    user.refresh_from_db()
    assert user.check_password("changed-by-the-operator-42")
