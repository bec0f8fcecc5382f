"""Owner-only clip files: /clips/<job id>/video.mp4, poster.jpg, download, and preview.jpg while it renders."""

from django.urls import path

from companion.evolve import views

app_name = "evolve"

urlpatterns = [
    path("<uuid:job_id>/video.mp4", views.clip_video, name="clip-video"),
    path("<uuid:job_id>/poster.jpg", views.clip_poster, name="clip-poster"),
    path("<uuid:job_id>/download", views.clip_download, name="clip-download"),
    path("<uuid:job_id>/preview.jpg", views.clip_preview, name="clip-preview"),
]
