"""Login throttling (django-axes) and API token expiry.

``HttpLoginThrottleBackend``: axes refuses ``authenticate()`` calls without a
request. Every login over HTTP (Django's LoginView, DRF's token view) passes
one; calls without one are programmatic (the test client's ``login()``,
management commands) and have no client to throttle, so they go straight to
the next backend instead of raising.

``LoginLockoutHandler``: failures are counted per username + client address
(``AXES_FAILURE_LIMIT``, default 5) *and* per username from every address
together (``AXES_USERNAME_FAILURE_LIMIT``, default 10), so neither one address
guessing nor many addresses (a botnet, or forged forwarding headers before
companion.web.proxies) get unlimited tries. The per-username limit is the
trade-off: anyone can keep an account locked for ``AXES_COOLOFF_HOURS`` by
failing on purpose; the account's own user can still reset their password.
The client address is ``REMOTE_ADDR`` as resolved from ``TRUSTED_PROXIES``.

``ExpiringTokenAuthentication``: DRF tokens stop working ``API_TOKEN_TTL_HOURS``
after they were issued; POST /api/auth/token/ (companion.api.views.TokenObtainView)
replaces an expired token with a fresh one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit
from django.conf import settings
from django.db.models import Sum
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


class HttpLoginThrottleBackend(AxesStandaloneBackend):
    def authenticate(self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class LoginLockoutHandler(AxesDatabaseHandler):
    """Locked when username+address reaches AXES_FAILURE_LIMIT or the username alone AXES_USERNAME_FAILURE_LIMIT.

    ``AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username"]``: axes hands us one
    queryset of recent attempts per entry, in that order, and compares what ``get_failures``
    returns with AXES_FAILURE_LIMIT; a username over its own limit reports at least that.
    """

    def get_failures(self, request: Any, credentials: dict | None = None) -> int:
        counts = [
            attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        ]
        if not counts:
            return 0
        per_address = counts[0]
        per_username = max(counts[1:], default=0)
        if per_username >= settings.AXES_USERNAME_FAILURE_LIMIT:
            return max(per_address, get_failure_limit(request, credentials))
        return per_address


def token_expires_at(token: Token):
    return token.created + timedelta(hours=settings.API_TOKEN_TTL_HOURS)


def token_expired(token: Token) -> bool:
    return token_expires_at(token) <= timezone.now()


class ExpiringTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>`` for API_TOKEN_TTL_HOURS after the token was issued; then 401."""

    def authenticate_credentials(self, key: str):
        user, token = super().authenticate_credentials(key)
        if token_expired(token):
            raise exceptions.AuthenticationFailed("Token has expired; ask for a new one at /api/auth/token/.")
        return user, token
