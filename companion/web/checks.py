"""Deploy check (``manage.py check --deploy``) for the proxy settings.

Behind a TLS proxy the scheme is believed only from TRUSTED_PROXIES (companion.web.proxies): with
SECURE_HTTPS=1 and no trusted proxy every request looks like plain http, SECURE_SSL_REDIRECT sends
it to https forever, and the websocket Origin check refuses https pages.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def proxy_settings_check(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    problems = []
    if settings.SECURE_HTTPS and not settings.TRUSTED_PROXIES:
        problems.append(Warning(
            "SECURE_HTTPS is on but TRUSTED_PROXIES is empty: behind a TLS proxy every request looks like http "
            "(endless HTTPS redirects, websockets refused) and every client has the proxy's address.",
            hint="Set TRUSTED_PROXIES to the load balancer's addresses or networks (README 'Security').",
            id="companion.W001",
        ))
    return problems
