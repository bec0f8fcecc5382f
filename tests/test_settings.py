"""Both deployments boot from the environment alone.

Each case runs manage.py in a subprocess with a clean environment, as a user
(or an init system) would, so no setting leaks in from the test process.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import django, json
django.setup()
from django.conf import settings
from django.db import connection
import dramatiq
from channels.layers import get_channel_layer
from asgiref.sync import async_to_sync

layer = get_channel_layer()
name = async_to_sync(layer.new_channel)()
async_to_sync(layer.send)(name, {"type": "probe", "n": 1})
echoed = async_to_sync(layer.receive)(name)
with connection.cursor() as cur:
    cur.execute("select count(*) from personas_persona")
    personas = cur.fetchone()[0]
print(json.dumps({
    "db": connection.vendor,
    "layer": type(layer).__name__,
    "echo": echoed["n"],
    "broker": type(dramatiq.get_broker()).__name__,
    "cache": settings.CACHES["default"]["BACKEND"],
    "personas": personas,
}))
"""


def _clean_env(**extra: str) -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(extra)
    return env


def _manage(*args: str, env: dict[str, str], timeout: int = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def _probe(env: dict[str, str]) -> dict:
    import json

    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "companion.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_embedded_default_boots_with_no_environment(tmp_path):
    env = _clean_env(COMPANION_VAR_DIR=str(tmp_path / "var"))
    migrated = _manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert (tmp_path / "var" / "db.sqlite3").exists()
    assert (tmp_path / "var" / "secret_key").exists()

    booted = _probe(env)
    assert booted == {
        "db": "sqlite",
        "layer": "InMemoryChannelLayer",
        "echo": 1,
        "broker": "StubBroker",
        "cache": "django.core.cache.backends.locmem.LocMemCache",
        "personas": 0,
    }


@pytest.mark.postgres
@pytest.mark.redis
def test_production_configuration_boots_on_postgres_and_redis(tmp_path, postgres_url, redis_url):
    import psycopg

    db_name = f"companion_boot_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{db_name}"')
    try:
        env = _clean_env(
            COMPANION_VAR_DIR=str(tmp_path / "var"),
            DATABASE_URL=postgres_url.rsplit("/", 1)[0] + f"/{db_name}",
            REDIS_URL=redis_url,
            SECRET_KEY=secrets.token_urlsafe(50),
            ALLOWED_HOSTS="companion.example.com",
            SECURE_HTTPS="1",
            TRUSTED_PROXIES="10.0.0.0/8",  # the TLS proxy in front (companion.W001 otherwise)
            METRICS_TOKEN=secrets.token_urlsafe(24),  # the scraper's (companion.W002 otherwise)
            DEBUG="0",
        )
        deploy = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
        assert deploy.returncode == 0, deploy.stdout + deploy.stderr

        migrated = _manage("migrate", "--noinput", env=env)
        assert migrated.returncode == 0, migrated.stderr

        booted = _probe(env)
        assert booted == {
            "db": "postgresql",
            "layer": "RedisChannelLayer",
            "echo": 1,
            "broker": "RedisBroker",
            "cache": "django.core.cache.backends.redis.RedisCache",
            "personas": 0,
        }
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def test_deploy_check_flags_an_insecure_production_configuration(tmp_path):
    """The same check fails loudly when HTTPS hardening is left off."""
    env = _clean_env(
        COMPANION_VAR_DIR=str(tmp_path / "var"),
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="companion.example.com",
    )
    deploy = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert deploy.returncode != 0
    assert "SESSION_COOKIE_SECURE" in deploy.stdout + deploy.stderr
