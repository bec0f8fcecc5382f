"""manage.py check --deploy warns about proxy and scraper settings that would break production."""

from __future__ import annotations

from django.core.checks import Tags, run_checks


def _our_deploy_warnings() -> set[str]:
    """The ids of our warnings among what ``check --deploy`` reports (the checks as registered)."""
    found = run_checks(tags=[Tags.security], include_deployment_checks=True)
    return {w.id for w in found if w.id.startswith("companion.")}


def test_tls_without_trusted_proxies_and_metrics_without_a_token_are_deploy_warnings(settings):
    settings.SECURE_HTTPS, settings.TRUSTED_PROXIES, settings.METRICS_TOKEN = True, [], ""
    assert _our_deploy_warnings() == {"companion.W001", "companion.W002"}
    settings.TRUSTED_PROXIES, settings.METRICS_TOKEN = ["10.0.0.0/8"], "t"
    assert _our_deploy_warnings() == set()
