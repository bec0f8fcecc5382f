"""Issue 11, items 10 and 13: a socket dies with its login, and only a page of this origin may open one.

Each test is the attack as it was reported (a socket opened before logout kept
serving history; Origin checked by host only) and what the server now does.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.test import Client

from companion.asgi import application
from companion.chat import services as chat_services
from tests.chat.conftest import Socket
from tests.web.factories import make_persona, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh():
    cache.clear()
    channel_layers.backends = {}
    yield
    channel_layers.backends = {}


@pytest.fixture
def alice_conv():
    alice = make_user("alice")
    return alice, chat_services.conversation_start(owner=alice, persona=make_persona("Mira"))


def _logged_in_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _ws(conversation_id: int, sessionid: str | None, *, origin: bytes | None = b"http://testserver",
        host: bytes = b"testserver", scheme: str | None = None) -> WebsocketCommunicator:
    headers = [(b"host", host)]
    if origin is not None:
        headers.append((b"origin", origin))
    if sessionid:
        headers.append((b"cookie", f"sessionid={sessionid}".encode()))
    comm = WebsocketCommunicator(application, f"/ws/conversations/{conversation_id}/", headers=headers)
    if scheme:
        comm.scope["scheme"] = scheme
    return comm


async def _open(conversation_id: int, sessionid: str) -> Socket:
    comm = _ws(conversation_id, sessionid)
    connected, _ = await comm.connect(timeout=5)
    assert connected
    return Socket(comm)


async def _closed_with(socket: Socket) -> int | None:
    output = await socket.comm.receive_output(timeout=5)
    assert output["type"] == "websocket.close", output
    return output.get("code")


async def _still_serving(socket: Socket) -> None:
    await socket.send({"type": "history.sync", "after_seq": 0})
    assert (await socket.recv())["type"] == "history"


# --- item 10: logout and password change end the user's sockets ------------------------------


async def test_logout_closes_the_sockets_of_that_session_with_4401(alice_conv):
    alice, conversation = alice_conv
    browser = await sync_to_async(_logged_in_client)(alice)
    phone = await sync_to_async(_logged_in_client)(alice)
    tab = await _open(conversation.pk, browser.cookies["sessionid"].value)
    other_device = await _open(conversation.pk, phone.cookies["sessionid"].value)
    await _still_serving(tab)

    response = await sync_to_async(browser.post)("/logout/")
    assert response.status_code == 302

    assert await _closed_with(tab) == 4401  # before: it kept answering history.sync
    await _still_serving(other_device)  # another device's session did not log out
    await other_device.close()


async def test_a_password_change_closes_every_socket_of_the_user(alice_conv):
    alice, conversation = alice_conv
    first = await _open(conversation.pk, (await sync_to_async(_logged_in_client)(alice)).cookies["sessionid"].value)
    second = await _open(conversation.pk, (await sync_to_async(_logged_in_client)(alice)).cookies["sessionid"].value)

    def change_password() -> None:
        alice.set_password("a-new-long-passphrase-42")
        alice.save()

    await sync_to_async(change_password)()
    assert await _closed_with(first) == 4401
    assert await _closed_with(second) == 4401


async def test_saving_a_user_without_a_new_password_closes_nothing(alice_conv):
    alice, conversation = alice_conv
    socket = await _open(conversation.pk, (await sync_to_async(_logged_in_client)(alice)).cookies["sessionid"].value)

    def rename() -> None:
        alice.first_name = "Al"
        alice.save()

    await sync_to_async(rename)()
    await _still_serving(socket)
    await socket.close()


async def test_after_logout_the_old_cookie_opens_nothing(alice_conv):
    alice, conversation = alice_conv
    browser = await sync_to_async(_logged_in_client)(alice)
    sessionid = browser.cookies["sessionid"].value
    await sync_to_async(browser.post)("/logout/")
    comm = _ws(conversation.pk, sessionid)
    connected, _ = await comm.connect(timeout=5)
    assert connected and (await comm.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4401}


# --- item 13: the websocket Origin check looks at scheme and port, not just the host -------------


@pytest.mark.parametrize(
    ("origin", "scheme", "allowed"),
    [
        (b"http://testserver", None, True),
        (b"http://testserver:80", None, True),  # the default port, spelled out
        (b"https://testserver", None, False),  # scheme differs from the socket's (ws)
        (b"http://testserver:8080", None, False),  # another port on the same host: another origin
        (b"http://evil.example", None, False),
        (b"null", None, False),  # sandboxed iframes, file:// pages
        (None, None, False),  # no Origin at all
        (b"https://testserver", "wss", True),  # a TLS socket (behind a trusted proxy) from the https page
        (b"http://testserver", "wss", False),  # the plain-http twin of an https site
    ],
)
async def test_the_origin_must_match_scheme_host_and_port(alice_conv, origin, scheme, allowed):
    alice, conversation = alice_conv
    sessionid = (await sync_to_async(_logged_in_client)(alice)).cookies["sessionid"].value
    comm = _ws(conversation.pk, sessionid, origin=origin, scheme=scheme)
    connected, code = await comm.connect(timeout=5)
    assert connected is allowed, (origin, scheme, code)
    if connected:
        await comm.disconnect()


async def test_csrf_trusted_origins_may_open_sockets_too(alice_conv, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.com", "https://*.companion.example"]
    alice, conversation = alice_conv
    sessionid = (await sync_to_async(_logged_in_client)(alice)).cookies["sessionid"].value
    for origin, allowed in (
        (b"https://app.example.com", True),
        (b"https://eu.companion.example", True),
        (b"http://app.example.com", False),
        (b"https://app.example.com:8443", False),
        (b"https://evilcompanion.example", False),
    ):
        comm = _ws(conversation.pk, sessionid, origin=origin)
        connected, _ = await comm.connect(timeout=5)
        assert connected is allowed, origin
        if connected:
            await comm.disconnect()


async def test_a_host_outside_allowed_hosts_is_refused_even_from_its_own_origin(alice_conv):
    alice, conversation = alice_conv
    sessionid = (await sync_to_async(_logged_in_client)(alice)).cookies["sessionid"].value
    comm = _ws(conversation.pk, sessionid, origin=b"http://evil.example", host=b"evil.example")
    connected, _ = await comm.connect(timeout=5)
    assert not connected
