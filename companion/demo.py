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
    password: str
    created: bool


def demo_user_ensure() -> DemoLogin:
    """Create (once) a demo superuser whose random password is kept in var/.

    The password is generated per install rather than hard-coded so an
    embedded server that ends up reachable from a network is not open to a
    well-known login.
    """
    password_file = settings.VAR_DIR / "demo_password"
    if not password_file.exists():
        password_file.write_text(secrets.token_urlsafe(12))
        password_file.chmod(0o600)
    password = password_file.read_text().strip()

    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=DEMO_USERNAME, defaults={"is_staff": True, "is_superuser": True}
    )
    if created or not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    return DemoLogin(username=DEMO_USERNAME, password=password, created=created)
