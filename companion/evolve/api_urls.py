"""REST routes for Evolve, mounted at /api/evolve/ (see companion.evolve.api)."""

from django.urls import path

from companion.evolve import api

app_name = "evolve-api"

urlpatterns = [
    path("jobs/", api.JobCreateView.as_view(), name="job-create"),
    path("preview/", api.PreviewView.as_view(), name="preview"),
    path("jobs/<uuid:job_id>/", api.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<uuid:job_id>/cancel/", api.JobCancelView.as_view(), name="job-cancel"),
    path("reels/", api.ReelCreateView.as_view(), name="reel-create"),
]
