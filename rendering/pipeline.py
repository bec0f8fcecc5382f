"""One render job, top to bottom: context → renderer → MP4 → C2PA label → storage.

Called by the actors with a job already marked running and a ProgressReporter
(progress writes + the cancellation check).  Raises RenderCancelled,
TransientRenderError or RenderFailed; the actor turns those into job states.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.conf import settings

from personas.models import Persona
from rendering import continuity, encode, labelling, safety
from rendering.errors import RenderCancelled, RenderFailed, TransientRenderError
from rendering.models import JobStatus, RenderJob
from rendering.renderers import RenderContext, get_renderer
from rendering.renderers.base import CastMember
from rendering.services import ProgressReporter, render_job_mark_succeeded


def _local_path(field_file) -> str | None:
    """A filesystem path for a FileField (LoRAs and portraits are read by libraries that want paths)."""
    if not field_file:
        return None
    try:
        return field_file.path
    except NotImplementedError:  # remote storage: copy into a per-process cache
        cache = Path(settings.VAR_DIR) / "render-cache" / field_file.name
        if not cache.exists():
            cache.parent.mkdir(parents=True, exist_ok=True)
            with field_file.open("rb") as src:
                cache.write_bytes(src.read())
        return str(cache)


def context_for(job: RenderJob) -> RenderContext:
    persona = job.persona
    size = (settings.RENDER_WIDTH, settings.RENDER_HEIGHT)
    start = continuity.last_frame(job.continues, size=size) if job.continues_id and job.continues else None
    return RenderContext(
        job_id=str(job.id),
        beat=job.scene_beat,
        persona_id=persona.pk,
        persona_name=persona.name,
        persona_appearance=persona.appearance,
        portrait_path=_local_path(persona.portrait),
        lora_path=_local_path(persona.video_lora),
        lora_weight=persona.video_lora_weight,
        lora_trigger=persona.video_lora_trigger,
        width=settings.RENDER_WIDTH,
        height=settings.RENDER_HEIGHT,
        fps=settings.RENDER_FPS,
        style_tags=tuple(persona.style_tags or ()),
        start_frame=start,
        cast=_cast(job),
    )


def _cast(job: RenderJob) -> tuple[CastMember, ...]:
    """The beat's other personas (a group scene), with their LoRAs, in the beat's order."""
    ids = [c.persona_id for c in job.scene_beat.characters if c.is_persona and c.persona_id
           and c.persona_id != job.persona_id]
    if not ids:
        return ()
    found = {p.pk: p for p in Persona.objects.filter(pk__in=ids)}
    return tuple(
        CastMember(persona_id=p.pk, name=p.name, lora_path=_local_path(p.video_lora), lora_weight=p.video_lora_weight,
                   lora_trigger=p.video_lora_trigger)
        for p in (found.get(i) for i in dict.fromkeys(ids)) if p is not None
    )


def _label_and_store(job: RenderJob, reporter: ProgressReporter, raw: Path, poster, title: str,
                     ingredients: list[tuple[str, Path]] | None = None) -> None:
    if reporter.is_cancelled():
        raise RenderCancelled()
    reporter(reporter.job.progress_total, reporter.job.progress_total, "labelling")
    signed = raw.with_name("signed.mp4")
    try:
        labels = labelling.sign_mp4(raw, signed, title=title, ingredients=ingredients or ())
    except Exception as exc:  # an unlabelled clip is never published
        raise RenderFailed("The clip could not be labelled as AI-generated, so it was not published.") from exc
    if poster is None:
        raise RenderFailed("The renderer produced no frames.")
    if not render_job_mark_succeeded(job=job, clip_path=signed, poster_bytes=encode.poster_jpeg(poster), labels=labels):
        raise RenderCancelled()


def _safety_check(job: RenderJob) -> None:
    """The safety gate again, right before rendering: the persona may have changed, a beat may have been
    written some other way, and this is where the guard model runs for requests that did not bring a verdict."""
    try:
        safety.render_worker_gate(job=job)
    except safety.SafetyCheckUnavailable as exc:
        raise TransientRenderError(exc.reason) from exc
    except safety.RenderRefused as exc:
        raise RenderFailed(exc.reason) from exc


def run_clip(job: RenderJob, reporter: ProgressReporter) -> None:
    _safety_check(job)
    ctx = context_for(job)
    clip = get_renderer().render(ctx, reporter, reporter.is_cancelled)
    frames = clip.frames
    if ctx.start_frame is not None and not clip.from_start_frame:
        # a Continue on a renderer that cannot start from a picture: dissolve from the last shot
        frames = continuity.fade_in_from(ctx.start_frame, frames, count=round(continuity.CROSSFADE_S * clip.fps))
    with tempfile.TemporaryDirectory(prefix="render-") as tmp:
        raw = Path(tmp) / "clip.mp4"
        _, poster = encode.write_mp4(
            frames, path=raw, fps=clip.fps, title=ctx.beat.action, poster_index=clip.frame_count // 3
        )
        if clip.poster is not None:
            poster = clip.poster
        _label_and_store(job, reporter, raw, poster, ctx.beat.action)


def run_reel(job: RenderJob, reporter: ProgressReporter) -> None:
    parts = {str(p.id): p for p in RenderJob.objects.filter(pk__in=job.parts, status=JobStatus.SUCCEEDED)}
    missing = [pid for pid in job.parts if pid not in parts or not parts[pid].clip]
    if missing:
        raise RenderFailed("Some clips of this reel are no longer available.")
    with tempfile.TemporaryDirectory(prefix="reel-") as tmp:
        paths = []
        for i, pid in enumerate(job.parts):
            local = Path(tmp) / f"part{i}.mp4"
            with parts[pid].clip.open("rb") as src:
                local.write_bytes(src.read())
            paths.append(local)
        raw = Path(tmp) / "reel.mp4"
        _, poster = encode.concat_mp4(
            paths,
            path=raw,
            title=f"Reel of {len(paths)} clips",
            on_frame=lambda done, total: reporter(done, total, "assembling"),
            is_cancelled=reporter.is_cancelled,
        )
        # the reel's manifest lists the clips it was made from (each with its own manifest)
        ingredients = [(f"clip {pid}", path) for pid, path in zip(job.parts, paths, strict=True)]
        _label_and_store(job, reporter, raw, poster, f"Reel of {len(paths)} clips", ingredients)
