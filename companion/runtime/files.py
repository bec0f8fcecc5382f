"""The files the embedded default keeps in var/, made by a command rather than by importing settings.

``var_dir_prepare`` makes VAR_DIR and STATIC_ROOT and, when the environment sets
no SECRET_KEY, saves the key this process runs with as var/secret_key (mode 0600),
so every later process reads the same one. ``manage.py`` calls it before any
command runs (``migrate`` opens the SQLite file in var/, and Django's system
checks already connect to it), and so does ``serve``; the test suite's conftest
does it for the test database.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings


def var_dir_prepare() -> None:
    """Make var/ and STATIC_ROOT; save the embedded secret key if it is not saved yet. Idempotent."""
    Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request otherwise
    key_file = settings.SECRET_KEY_FILE
    if key_file is None or Path(key_file).exists():
        return
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process saved its key first; the next start reads that one
        return
    with os.fdopen(fd, "w") as out:
        out.write(settings.SECRET_KEY)
