"""Demo content for the embedded default: one login and the demo persona."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model

DEMO_USERNAME = "demo"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str | None  # only when this call created the login
    created: bool


def demo_user_ensure() -> DemoLogin:
    """Create (once) a demo superuser with a random password; later calls leave it alone.

    The password is generated per install rather than hard-coded, so an embedded
    server that ends up reachable from a network is not open to a well-known
    login. It is returned (and so printed by ``serve``) only by the call that
    creates the user, and kept in var/demo_password (mode 0600) for the person
    who installed it; it is never reset, so a password changed since stays.
    """
    User = get_user_model()
    if User.objects.filter(username=DEMO_USERNAME).exists():
        return DemoLogin(username=DEMO_USERNAME, password=None, created=False)
    password = secrets.token_urlsafe(12)
    password_file = settings.VAR_DIR / "demo_password"
    password_file.write_text(password)
    password_file.chmod(0o600)
    User.objects.create_superuser(username=DEMO_USERNAME, email="", password=password)
    return DemoLogin(username=DEMO_USERNAME, password=password, created=True)
