"""One real vLLM server per test session (tests/support/vllm.py), shared by the modules that need it."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.support.vllm import VllmServer, vllm_paths


@pytest.fixture(scope="session")
def _vllm_session():
    """vLLM serving the converted SmolLM2 with persona-a and persona-b listed at start-up."""
    paths = vllm_paths()
    # Not under pytest's basetemp: a concurrent pytest run on the machine prunes old basetemps,
    # which would delete the live server's log and compile cache.
    workdir = Path(tempfile.mkdtemp(prefix="companion-vllm-"))
    server = VllmServer(paths, workdir).start()
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def vllm_server(_vllm_session):
    """The session's server, started again if a test killed it (the outage test restarts it itself)."""
    if not _vllm_session.alive():
        _vllm_session.start()
    return _vllm_session
