"""Issue 11, item 7: forwarded headers believed only from TRUSTED_PROXIES; lockout per username too; /metrics by token.

The reported attack: Daphne ran with ``--proxy-headers``, so 20 wrong passwords,
each with a fresh ``X-Forwarded-For``, were never locked out, and /metrics
answered a forged internal address. These tests speak raw ASGI to the real
application (the middleware stack Daphne runs), as a client on the internet
or a load balancer would.
"""

from __future__ import annotations

import json

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core.cache import cache
from django.test import Client

from companion.asgi import application
from companion.web.proxies import forwarded_client, proxied_scope
from tests.web.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db(transaction=True)

ATTACKER = ("198.51.100.66", 40000)
BALANCER = ("10.0.0.2", 40000)


@pytest.fixture(autouse=True)
def _fresh(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.TRUSTED_PROXIES = []
    cache.clear()
    yield
    cache.clear()


async def asgi_http(
    method: str, path: str, *, client=ATTACKER, headers=(), body: bytes = b""
) -> tuple[int, dict, bytes]:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-length", str(len(body)).encode()), *headers],
        "client": client, "server": ("testserver", 80),
    }
    comm = ApplicationCommunicator(application, scope)
    await comm.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await comm.receive_output(timeout=20)
    chunks = []
    while True:
        message = await comm.receive_output(timeout=20)
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    await comm.send_input({"type": "http.disconnect"})
    await comm.wait(timeout=5)
    return start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}, b"".join(chunks)


async def token_login(password: str, *, client=ATTACKER, forwarded_for: str | None = None) -> int:
    headers = [(b"content-type", b"application/json")]
    if forwarded_for:
        headers.append((b"x-forwarded-for", forwarded_for.encode()))
    body = json.dumps({"username": "alice", "password": password}).encode()
    status, _, _ = await asgi_http("POST", "/api/auth/token/", client=client, headers=headers, body=body)
    return status


# --- the forwarded-header rules -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("198.51.100.66", ["1.2.3.4"], "198.51.100.66"),  # not a proxy of ours: its header is a lie
        ("10.0.0.2", ["203.0.113.9"], "203.0.113.9"),  # our balancer: believed
        ("10.0.0.2", ["1.2.3.4, 203.0.113.9"], "203.0.113.9"),  # the client's own claim (left) ignored
        ("10.0.0.2", ["203.0.113.9, 10.0.0.7"], "203.0.113.9"),  # two of our proxies: the first outside one
        ("10.0.0.2", ["1.2.3.4", "203.0.113.9"], "203.0.113.9"),  # repeated headers read as one list
        ("10.0.0.2", ["garbage, 203.0.113.9"], "203.0.113.9"),
        ("10.0.0.2", ["203.0.113.9, garbage"], "10.0.0.2"),  # garbage next to us: nothing beyond is believed
        ("10.0.0.2", ["[2001:db8::7]:5123"], "2001:db8::7"),
        ("10.0.0.2", ["10.0.0.9"], "10.0.0.9"),  # only proxies: the farthest one
    ],
)
def test_the_client_is_the_first_address_outside_our_proxies(peer, forwarded, client):
    import ipaddress

    assert forwarded_client(peer, forwarded, [ipaddress.ip_network("10.0.0.0/8")]) == client


def test_forwarding_headers_of_untrusted_peers_are_removed_and_the_scheme_comes_from_ours(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    headers = [(b"x-forwarded-for", b"127.0.0.1"), (b"x-forwarded-proto", b"https"), (b"host", b"h")]
    scope = proxied_scope({"type": "http", "client": ATTACKER, "scheme": "http", "headers": headers})
    assert scope["client"] == ATTACKER and scope["scheme"] == "http"
    assert scope["headers"] == [(b"host", b"h")]
    scope = proxied_scope({"type": "websocket", "client": BALANCER, "scheme": "ws", "headers": headers})
    assert scope["client"][0] == "127.0.0.1" and scope["scheme"] == "wss"


# --- the attacks -------------------------------------------------------------------------------------


async def test_a_fresh_forwarded_address_per_guess_no_longer_escapes_the_lockout(settings):
    await make_user_async("alice")
    statuses = [await token_login("wrong", forwarded_for=f"203.0.113.{i}") for i in range(20)]
    limit = settings.AXES_FAILURE_LIMIT
    assert statuses[: limit - 1] == [400] * (limit - 1)  # wrong password
    assert set(statuses[limit:]) == {429}, statuses  # locked: the header did not make each try "new"
    assert await token_login(PASSWORD, forwarded_for="203.0.113.250") == 429  # not even the right one now


async def test_many_real_addresses_lock_the_username_itself(settings):
    """Behind our balancer the forwarded addresses are real: a botnet is stopped per username."""
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    await make_user_async("alice")
    limit = settings.AXES_USERNAME_FAILURE_LIMIT
    statuses = [await token_login("wrong", client=BALANCER, forwarded_for=f"203.0.113.{i}") for i in range(limit)]
    assert statuses[-1] == 429 and set(statuses[:-1]) == {400}, statuses
    # Another address, the right password: the username is locked for the cool-off.
    assert await token_login(PASSWORD, client=BALANCER, forwarded_for="192.0.2.200") == 429


def test_one_address_is_still_locked_at_the_smaller_per_address_limit(settings):
    make_user("alice")
    client = Client()
    codes = [
        client.post("/login/", {"username": "alice", "password": "x"}, REMOTE_ADDR="203.0.113.5").status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert codes[-1] == 429 and settings.AXES_FAILURE_LIMIT < settings.AXES_USERNAME_FAILURE_LIMIT
    # Below the username limit, the real user elsewhere still gets in.
    assert client.post("/login/", {"username": "alice", "password": PASSWORD},
                       REMOTE_ADDR="192.0.2.1").status_code == 302


async def test_metrics_ignore_a_forged_internal_address(settings):
    settings.METRICS_TOKEN = "scrape-me"
    for forged in ("127.0.0.1", "10.0.0.1"):
        status, _, _ = await asgi_http("GET", "/metrics", headers=[(b"x-forwarded-for", forged.encode())])
        assert status == 403, forged
    status, _, body = await asgi_http("GET", "/metrics", headers=[(b"authorization", b"Bearer scrape-me")])
    assert status == 200 and b"companion_websocket_connections" in body


async def make_user_async(name: str):
    from asgiref.sync import sync_to_async

    return await sync_to_async(make_user)(name)
