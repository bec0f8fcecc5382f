"""Settings for the test suite (pyproject's DJANGO_SETTINGS_MODULE): the project's, plus the test database."""

from __future__ import annotations

import os

from companion.settings import *  # noqa: F403
from companion.settings import DATABASES, VAR_DIR

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not Django's shared-cache in-memory database: its table locks fail at once ("table is
    # locked") where a file waits out the busy timeout, so worker threads are tested the way they run.
    # One file per process keeps concurrent test runs apart. var/ is made by the suite's conftest.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
