"""Clip files, served only to the user who requested the render (everyone else gets 404)."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from companion.evolve.ranges import RangeNotSatisfiable, parse_range
from companion.evolve.services import EvolveError, job_get_for
from rendering.models import JobStatus, RenderJob
from rendering.previews import preview_get

CACHE = "private, max-age=3600"


def _owned_job(request: HttpRequest, job_id) -> RenderJob:
    try:
        job = job_get_for(user=request.user, job_id=job_id)
    except EvolveError:
        raise Http404("No such clip.") from None
    if job.status != JobStatus.SUCCEEDED or not job.clip:
        raise Http404("This clip is not ready.")
    return job


def _harden(response: HttpResponse, etag: str | None = None) -> HttpResponse:
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = CACHE
    if etag:
        response["ETag"] = etag
    return response


def _serve_file(request: HttpRequest, field_file, *, content_type: str, filename: str, attachment: bool):
    try:
        size = field_file.size
    except OSError:
        raise Http404("The clip file is missing.") from None
    etag = f'"{field_file.name.rsplit("/", 1)[-1]}-{size}"'
    try:
        byte_range = parse_range(request.headers.get("Range"), size)
    except RangeNotSatisfiable:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return _harden(response, etag)
    if byte_range is not None and request.headers.get("If-Range") not in (None, etag):
        byte_range = None  # the file changed since the client's first part: send it whole
    fh = field_file.open("rb")
    if byte_range is None:
        response = FileResponse(fh, content_type=content_type, as_attachment=attachment, filename=filename)
        response["Content-Length"] = str(size)
    else:
        with fh:
            fh.seek(byte_range.start)
            data = fh.read(byte_range.length)
        response = HttpResponse(data, status=206, content_type=content_type)
        response["Content-Range"] = byte_range.content_range(size)
        response["Content-Length"] = str(len(data))
        if attachment:
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Accept-Ranges"] = "bytes"
    return _harden(response, etag)


def _filename(job: RenderJob, ext: str) -> str:
    return f"{job.kind}-{str(job.pk)[:8]}.{ext}"


@require_safe
def clip_video(request: HttpRequest, job_id) -> HttpResponse:
    job = _owned_job(request, job_id)
    return _serve_file(request, job.clip, content_type="video/mp4", filename=_filename(job, "mp4"), attachment=False)


@require_safe
def clip_poster(request: HttpRequest, job_id) -> HttpResponse:
    job = _owned_job(request, job_id)
    if not job.poster:
        raise Http404("This clip has no poster.")
    return _serve_file(request, job.poster, content_type="image/jpeg", filename=_filename(job, "jpg"), attachment=False)


@require_safe
def clip_download(request: HttpRequest, job_id) -> HttpResponse:
    job = _owned_job(request, job_id)
    return _serve_file(request, job.clip, content_type="video/mp4", filename=_filename(job, "mp4"), attachment=True)


@require_safe
def clip_preview(request: HttpRequest, job_id) -> HttpResponse:
    """The latest live preview of a render in progress (the same JPEG render.progress carries)."""
    try:
        job = job_get_for(user=request.user, job_id=job_id)
    except EvolveError:
        raise Http404("No such clip.") from None
    jpeg = preview_get(job_id=str(job.pk)) if not job.is_finished else None
    if jpeg is None:
        raise Http404("No preview yet (or the clip is done).")
    response = HttpResponse(jpeg, content_type="image/jpeg")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"  # it changes twice a second
    return response
