"""Login throttling backend: django-axes' standalone backend, for HTTP logins only.

Axes refuses ``authenticate()`` calls without a request. Every login over
HTTP (Django's LoginView, DRF's token view) passes one; calls without one are
programmatic (the test client's ``login()``, management commands) and have no
client to throttle, so they go straight to the next backend instead of
raising.
"""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend


class HttpLoginThrottleBackend(AxesStandaloneBackend):
    def authenticate(self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
