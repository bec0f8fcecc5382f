"""Deploy check (``manage.py check --deploy``) for the scraper's token."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def metrics_token_check(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    if settings.METRICS_TOKEN:
        return []
    return [Warning(
        "METRICS_TOKEN is empty: /metrics answers nobody.",
        hint="Set METRICS_TOKEN and give Prometheus the same bearer token.",
        id="companion.W002",
    )]
