"""REST routes for Evolve, mounted at /api/evolve/ (see companion.evolve.api.views)."""

from django.urls import path

from companion.evolve.api import views

app_name = "evolve-api"

urlpatterns = [
    path("jobs/", views.JobCreateView.as_view(), name="job-create"),
    path("preview/", views.PreviewView.as_view(), name="preview"),
    path("jobs/<uuid:job_id>/", views.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<uuid:job_id>/cancel/", views.JobCancelView.as_view(), name="job-cancel"),
    path("jobs/<uuid:job_id>/continue/", views.JobContinueView.as_view(), name="job-continue"),
    path("reels/", views.ReelCreateView.as_view(), name="reel-create"),
]
