"""Top-level URLs: web UI, REST API, admin, media."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("companion.api.urls")),
    path("", include("companion.web.urls")),
]
