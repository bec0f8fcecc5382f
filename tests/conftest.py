"""Fixtures shared by the whole suite.

Tests run on the embedded default (SQLite, in-memory channel layer, stub
Dramatiq broker) unless they ask for the real Redis/PostgreSQL services on
localhost through the fixtures below, which skip loudly when those are absent.
"""

from __future__ import annotations

import os
import socket

import pytest

from companion.chat import services
from companion.llm.registry import set_backend
from companion.llm.scripted import ScriptedBackend
from companion.runtime.files import var_dir_prepare
from tests.web.factories import make_persona, make_user

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (with a reason that shows up in -ra) when a local service is absent.

    In CI (CI=true) the services are part of the machine, so a missing one is a
    failure, not a skip.
    """
    if _port_open(host, port):
        return
    message = f"{name} is not running on {host}:{port}; start it (README \"Tests and benchmarks\") to run this test"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def redis_url() -> str:
    require_service("Redis", "127.0.0.1", 6379)
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    return REDIS_URL


@pytest.fixture
def postgres_url() -> str:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    return POSTGRES_URL


@pytest.fixture(autouse=True, scope="session")
def _var_dir() -> None:
    """var/ (the test database's folder) and STATIC_ROOT, as a manage.py command would make them."""
    var_dir_prepare()


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    """Uploaded and rendered files go to a per-test folder."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2 costs ~1 s per user on this machine; tests don't need its strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def scripted_backend():
    """Every test talks to a deterministic chat backend unless it swaps in a real one."""
    backend = ScriptedBackend()
    set_backend(backend)
    yield backend
    set_backend(None)


# --- people, a persona and conversations (web, API and security tests) --------


@pytest.fixture
def alice(db):
    return make_user("alice")


@pytest.fixture
def bob(db):
    return make_user("bob")


@pytest.fixture
def public_persona(db):
    return make_persona("Mira", portrait=True, tagline="A lighthouse keeper")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def alice_conversation(alice, public_persona):
    return services.conversation_start(owner=alice, persona=public_persona)


@pytest.fixture
def bob_conversation(bob, public_persona):
    return services.conversation_start(owner=bob, persona=public_persona)
