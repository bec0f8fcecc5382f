"""Top-level URLs: web UI, REST API, admin, media."""

from django.contrib import admin
from django.urls import include, path

from companion.ops import health
from companion.ops.metrics import metrics_view

urlpatterns = [
    # operations: probes for the orchestrator, Prometheus scrape target
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="prometheus-django-metrics"),  # scraper only (see ops.metrics)
    path("account/", include("companion.accounts.urls")),  # data export, account deletion
    path("admin/", admin.site.urls),
    path("api/", include("companion.api.urls")),
    path("clips/", include("companion.evolve.urls")),  # owner-only clip files
    path("", include("companion.web.urls")),
]
