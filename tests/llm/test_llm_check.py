"""`manage.py llm_check` on the embedded default and against an endpoint that is down."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from companion.llm.registry import set_backend
from tests.llm.openai_server import free_port


def run_check() -> tuple[str, CommandError | None]:
    out = io.StringIO()
    try:
        call_command("llm_check", stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


@pytest.mark.slow
def test_embedded_backend_passes(settings):
    settings.LLM_BACKEND = "embedded"
    set_backend(None)  # the autouse scripted backend fixture puts it back

    output, error = run_check()

    assert error is None, output
    assert "backend: embedded (LlamaCppBackend)" in output
    assert "models: SmolLM2-135M-Instruct.Q4_1.gguf" in output
    assert "completion (5 tokens): " in output and "first token" in output
    assert "structured output: yes {" in output
    assert "llm_check: OK" in output


def test_a_server_that_is_down_fails_every_check(settings):
    settings.LLM_BACKEND = "openai"
    settings.LLM_BASE_URL = f"http://127.0.0.1:{free_port()}/v1"
    settings.LLM_MODEL = ""
    settings.LLM_CONNECT_RETRIES = 0
    settings.LLM_TIMEOUT_S = 2.0
    set_backend(None)

    output, error = run_check()

    assert error is not None
    assert "3 check(s) failed" in str(error)
    assert "models: FAILED (LLM endpoint http://127.0.0.1:" in output
    assert "unreachable" in output
    assert "completion: FAILED" in output
    assert "structured output: no" in output
