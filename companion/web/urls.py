"""URLs of the web UI."""

from django.contrib.auth import views as auth_views
from django.urls import path

from companion.web import views

urlpatterns = [
    path("", views.home, name="home"),
    # Installable app (companion.web.pwa): the manifest and the app shell's service worker, at the root.
    path("manifest.webmanifest", views.web_manifest, name="web-manifest"),
    path("sw.js", views.service_worker, name="service-worker"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("account/", views.account, name="account"),  # /account/export/ and /account/delete/: companion.accounts
    path("personas/", views.persona_gallery, name="personas"),
    path("personas/<slug:slug>/portrait/", views.persona_portrait, name="persona-portrait"),
    path("conversations/new/", views.conversation_new, name="conversation-new"),
    path("conversations/<int:conversation_id>/", views.chat, name="chat"),
    path("conversations/<int:conversation_id>/archive/", views.conversation_archive, name="conversation-archive"),
    path("conversations/<int:conversation_id>/delete/", views.conversation_delete, name="conversation-delete"),
]
