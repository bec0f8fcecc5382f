"""manage.py check --deploy warns about proxy and scraper settings that would break production."""

from __future__ import annotations

from companion.ops.checks import proxy_settings_check


def test_tls_without_trusted_proxies_and_metrics_without_a_token_are_deploy_warnings(settings):
    settings.SECURE_HTTPS, settings.TRUSTED_PROXIES, settings.METRICS_TOKEN = True, [], ""
    assert {w.id for w in proxy_settings_check()} == {"companion.W001", "companion.W002"}
    settings.TRUSTED_PROXIES, settings.METRICS_TOKEN = ["10.0.0.0/8"], "t"
    assert proxy_settings_check() == []
