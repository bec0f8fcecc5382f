"""Picks the process-wide chat backend from settings.LLM_BACKEND."""

from __future__ import annotations

import threading

from django.conf import settings
from django.utils.module_loading import import_string

from companion.llm.base import ChatBackend

_ALIASES = {
    "embedded": "companion.llm.llamacpp.LlamaCppBackend",
    "openai": "companion.llm.openai_compat.OpenAICompatibleBackend",
    "scripted": "companion.llm.scripted.ScriptedBackend",
}
_lock = threading.Lock()
_backend: ChatBackend | None = None


def get_backend() -> ChatBackend:
    """The backend for this process, built once (models load once per process)."""
    global _backend
    if _backend is None:
        with _lock:
            if _backend is None:
                cls = import_string(_ALIASES.get(settings.LLM_BACKEND, settings.LLM_BACKEND))
                _backend = cls()
    return _backend


def set_backend(backend: ChatBackend | None) -> None:
    """Swap the process backend (tests, benchmarks)."""
    global _backend
    with _lock:
        _backend = backend
