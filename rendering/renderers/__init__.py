"""Renderers behind one interface; ``get_renderer()`` picks the one settings.RENDERER names."""

from __future__ import annotations

import threading

from django.conf import settings
from django.utils.module_loading import import_string

from rendering.renderers.base import RenderContext, RenderedClip, Renderer

__all__ = ["RenderContext", "RenderedClip", "Renderer", "get_renderer", "renderer_class", "reset_renderer"]

RENDERERS = {
    "previz": "rendering.renderers.previz.PrevizRenderer",
    "diffusers": "rendering.renderers.diffusers_video.DiffusersVideoRenderer",
}

_lock = threading.Lock()
_instances: dict[str, Renderer] = {}


def get_renderer(name: str | None = None) -> Renderer:
    """One renderer per worker process and name: the diffusers one keeps its pipeline loaded."""
    name = name or settings.RENDERER
    with _lock:
        if name not in _instances:
            _instances[name] = import_string(RENDERERS.get(name, name))()
        return _instances[name]


def renderer_class(name: str | None = None) -> type[Renderer]:
    """The configured renderer's class, without loading it (to read what it supports)."""
    name = name or settings.RENDERER
    return import_string(RENDERERS.get(name, name))


def reset_renderer() -> None:
    with _lock:
        _instances.clear()
