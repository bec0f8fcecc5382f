"""REST API routes (all under /api/)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from companion.api import views

router = DefaultRouter()
router.register("personas", views.PersonaViewSet, basename="api-persona")
router.register("conversations", views.ConversationViewSet, basename="api-conversation")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("evolve/", include("companion.evolve.api_urls")),
    path("memory/", include("companion.memory.api.urls")),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("auth/token/", obtain_auth_token, name="api-token"),
    *router.urls,
]
