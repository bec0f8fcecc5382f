"""One real vLLM server per test session (tests/support/vllm.py), shared by the modules that need it."""

from __future__ import annotations

import pytest

from tests.support.vllm import VllmServer, vllm_paths


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory):
    """vLLM serving the converted SmolLM2 with persona-a and persona-b listed at start-up.

    A test that kills it (the outage test) restarts it before it ends, so later tests find it up.
    """
    server = VllmServer(vllm_paths(), tmp_path_factory.mktemp("vllm")).start()
    yield server
    server.stop()
