"""REST API routes (all under /api/)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from companion.api import views
from companion.web.csp import csp_update

router = DefaultRouter()
router.register("personas", views.PersonaViewSet, basename="api-persona")
router.register("conversations", views.ConversationViewSet, basename="api-conversation")
router.register("lorebooks", views.LorebookViewSet, basename="api-lorebook")

urlpatterns = [
    # Open on the embedded default; signed-in users only in production (API_DOCS_PUBLIC).
    path("schema/", SpectacularAPIView.as_view(permission_classes=[views.DocsPermission]), name="api-schema"),
    path("evolve/", include("companion.evolve.api.urls")),
    path("memory/", include("companion.memory.api.urls")),
    # The split view serves Swagger UI's start-up script as a file (no inline script); its page
    # template still carries a small inline <style>, allowed on this page only.
    path(
        "docs/",
        csp_update({"style-src": ["'unsafe-inline'"]})(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema", permission_classes=[views.DocsPermission])
        ),
        name="api-docs",
    ),
    path("auth/token/", views.TokenObtainView.as_view(), name="api-token"),  # expires after API_TOKEN_TTL_HOURS
    *router.urls,
]
