"""`manage.py serve` in a subprocess on its own SQLite folder, for real-browser tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling out, which this closed network refuses.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]
PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class ServedApp:
    url: str
    conversation_id: int
    log: Path
    conversation_ids: tuple[int, ...] = ()  # when the seed also prints "CONVERSATIONS <id> <id> ..."


@contextmanager
def served_app(var_dir: Path, *, seed: str, env: dict[str, str] | None = None) -> Iterator[ServedApp]:
    """Migrate, run ``seed`` (a `manage.py shell` script printing ``CONVERSATION <id>``), serve, stop.

    The server is the embedded default as a user runs it: Daphne plus the
    in-process Dramatiq worker, with the scripted chat backend.
    """
    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "companion.settings",
        "COMPANION_VAR_DIR": str(var_dir),
        "MEDIA_ROOT": str(var_dir / "media"),
        "LLM_BACKEND": "scripted",
        "TASKS_IN_PROCESS": "1",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DEBUG": "0",
        "PYTHONPATH": str(ROOT),
        **(env or {}),
    }

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, check=True,
                              capture_output=True, text=True, timeout=180)

    manage("migrate", "--noinput")
    seeded = manage("shell", "-c", seed).stdout
    conversation_id = int(seeded.split("CONVERSATION")[1].split()[0])
    listed = next((line.split()[1:] for line in seeded.splitlines() if line.startswith("CONVERSATIONS ")), [])
    port = free_port()
    log = var_dir / "serve.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", f"127.0.0.1:{port}", "--no-demo"],
            cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
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
        yield ServedApp(url=url, conversation_id=conversation_id, log=log,
                        conversation_ids=tuple(int(x) for x in listed))
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def log_in(page, url: str, username: str = "alice") -> None:
    """Log in through the real login form of a served app (Playwright page)."""
    page.goto(f"{url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/")


def send_and_wait_reply(page, text: str, *, persona_name: str = "Mira"):
    """Send ``text`` from the chat page's composer and wait for the complete reply to it (returned, a locator)."""
    replies = page.locator(".message[data-role=persona][data-status=complete]:not([hidden])")
    before = replies.count()
    box = page.get_by_label(f"Message to {persona_name}")
    box.fill(text)
    box.press("Enter")
    page.locator(".message[data-role=user] .message-body", has_text=text).wait_for()
    replies.nth(before).wait_for()
    return replies.nth(before)
