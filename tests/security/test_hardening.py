"""Login throttling, CSRF, password rules and per-user rate limits, as an attacker would meet them."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client

from companion.accounts.models import SignupAttestation
from companion.chat import services as chat_services
from companion.core.ratelimit import render_rate_exceeded
from tests.web.factories import PASSWORD, make_persona, make_user, say

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


def _login(client: Client, username: str, password: str, ip: str = "198.51.100.7"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_repeated_failed_logins_lock_the_account_from_that_address(settings):
    make_user("alice")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = _login(client, "alice", "guess")
        assert response.status_code == 200  # the form again, with an error
    assert _login(client, "alice", "guess").status_code == 429  # the limit-th failure locks
    locked = _login(client, "alice", PASSWORD)  # even the right password is refused now
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    # Another address (the real user elsewhere) is not locked out by the attacker.
    other = Client()
    assert _login(other, "alice", PASSWORD, ip="203.0.113.9").status_code == 302


def test_a_successful_login_resets_the_failure_count(settings):
    make_user("alice")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "alice", "guess")
    assert _login(client, "alice", PASSWORD).status_code == 302
    client.post("/logout/")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "alice", "guess")
    assert _login(client, "alice", PASSWORD).status_code == 302


def test_programmatic_login_is_not_throttled():
    """The test client's login() has no request to throttle; it must keep working."""
    make_user("alice")
    assert Client().login(username="alice", password=PASSWORD)


def _csrf_token(client: Client, url: str) -> str:
    page = client.get(url).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def test_forms_refuse_posts_without_the_csrf_token():
    alice = make_user("alice")
    persona = make_persona("Mira")
    client = Client(enforce_csrf_checks=True)
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 403
    client.force_login(alice)
    conversation = chat_services.conversation_start(owner=alice, persona=persona)
    for url, data in (
        ("/conversations/new/", {"persona": persona.slug}),
        (f"/conversations/{conversation.pk}/archive/", {}),
        (f"/conversations/{conversation.pk}/delete/", {}),
        ("/logout/", {}),
    ):
        assert client.post(url, data).status_code == 403, url
    assert chat_services.Conversation.objects.filter(pk=conversation.pk, archived=False).exists()
    # With the token from the page, the same form works.
    token = _csrf_token(client, f"/conversations/{conversation.pk}/")
    response = client.post(f"/conversations/{conversation.pk}/archive/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302


def test_the_session_api_needs_csrf_too():
    alice = make_user("alice")
    conversation = chat_services.conversation_start(owner=alice, persona=make_persona("Mira"))
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.delete(f"/api/conversations/{conversation.pk}/").status_code == 403
    assert chat_services.Conversation.objects.filter(pk=conversation.pk).exists()


@pytest.mark.parametrize("password", ["password123", "12345678901", "short", "alice2024x"])
def test_signup_refuses_weak_passwords(password):
    response = Client().post(
        "/signup/", {"username": "alice2024", "password1": password, "password2": password, "attest": "on"}
    )
    assert response.status_code == 200  # the form again
    assert not get_user_model().objects.filter(username="alice2024").exists()


def test_signup_records_the_adult_and_terms_attestation_with_a_time():
    response = Client().post("/signup/", {"username": "carol", "password1": PASSWORD, "password2": PASSWORD})
    assert not get_user_model().objects.filter(username="carol").exists()  # no attestation, no account
    response = Client().post(
        "/signup/", {"username": "carol", "password1": PASSWORD, "password2": PASSWORD, "attest": "on"}
    )
    assert response.status_code == 302
    attestation = SignupAttestation.objects.get(user__username="carol")
    assert attestation.attested_at is not None


def test_render_requests_are_rate_limited_per_user(settings):
    settings.RENDER_RATE_LIMIT = "3/m"
    alice, bob = make_user("alice"), make_user("bob")
    persona = make_persona("Mira")
    conversation = chat_services.conversation_start(owner=alice, persona=persona)
    client = Client()
    client.force_login(alice)
    codes = []
    for i in range(4):
        _, reply = say(conversation, f"We walk to the pier, take {i}.")
        response = client.post("/api/evolve/jobs/", {"message_id": reply.pk, "client_id": f"c{i}"},
                               content_type="application/json")
        codes.append(response.status_code if response.status_code >= 400 else "ok")
        last = response
    assert codes == ["ok", "ok", "ok", 429]
    assert last.json()["code"] == "rate_limited" and int(last["Retry-After"]) >= 1
    assert not render_rate_exceeded(user_id=bob.pk)  # another user's budget is their own


@pytest.mark.redis
def test_rate_limits_count_in_the_shared_cache(settings, redis_url):
    """With Redis as the cache, every process draws from one counter per user."""
    import redis

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}}
    settings.RENDER_RATE_LIMIT = "2/m"
    from django.core.cache import caches

    caches._settings = None  # re-read CACHES
    try:
        assert not render_rate_exceeded(user_id=41)
        assert not render_rate_exceeded(user_id=41)
        assert render_rate_exceeded(user_id=41)
        keys = [k.decode() for k in redis.Redis.from_url(redis_url).keys("*ratelimit:render:41:*")]
        assert len(keys) == 1  # the counter lives in Redis, visible to every process
    finally:
        caches._settings = None
