"""PostgreSQL drops every connection (pg_terminate_backend): requests fail cleanly, then succeed.

Runs with the production connection settings (persistent connections,
CONN_MAX_AGE=60, health checks on), where every process holds connections the
server just killed.
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request

import pytest

from tests.faults.conftest import seed
from tests.support.wsclient import ChatSocket

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(300)]


def _get(url: str, sessionid: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Cookie": f"sessionid={sessionid}"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def test_requests_fail_cleanly_and_recover_after_a_connection_drop(make_topology):
    topo = make_topology(CONN_MAX_AGE="60")
    user = seed(topo)[0]
    urls = [f"{web}/api/conversations/{user['conversation_id']}/messages/" for web in topo.web_urls]

    async def warm_up():
        async with ChatSocket(topo.web_urls[0], user["conversation_id"], user["sessionid"]) as ws:
            await ws.send_message("Before the drop.", "p1")

    asyncio.run(warm_up())
    for url in urls:  # every process now holds open connections
        assert _get(url, user["sessionid"])[0] == 200

    killed = topo.terminate_db_connections()
    assert killed >= 2  # web-a and web-b at least (a worker holds one only while it has worked lately)

    outcomes = []
    for _ in range(3):
        for url in urls:
            status, body = _get(url, user["sessionid"])
            outcomes.append(status)
            assert status in (200, 500, 503), (status, body[:300])
            assert "Traceback" not in body and "OperationalError" not in body  # no debug leak
    # Health checks on reused connections: by the second round every request succeeds.
    assert outcomes[-4:] == [200, 200, 200, 200], outcomes
    for name in ("web-a", "web-b"):
        assert topo.readyz(name)[0] == 200

    async def chat_and_render_after():
        async with ChatSocket(topo.web_urls[1], user["conversation_id"], user["sessionid"]) as ws:
            _, done = await ws.send_message("We walk along the beach at sunset.", "p2")
            await ws.send({"type": "render.request", "message_id": done["message"]["id"], "client_id": "p2"})
            outcome = await ws.wait_for(lambda f: f["type"] in ("render.done", "render.failed", "error"), 120)
            return done, outcome

    started = time.monotonic()
    done, outcome = asyncio.run(chat_and_render_after())
    assert done["message"]["status"] == "complete"
    assert outcome["type"] == "render.done", outcome  # the render worker reconnected too
    assert time.monotonic() - started < 120
