"""The job loop with a real dramatiq.Worker on the embedded stub broker."""

import time

import dramatiq
import pytest

from rendering import encode, labelling
from rendering.actors import QUEUE, render_clip
from rendering.models import RenderJob
from rendering.services import reel_request, render_job_cancel, render_job_request
from tests.rendering import fakes
from tests.rendering.conftest import make_beat, wait_event, wait_finished, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def request(persona, user, key="k", **beat):
    job, _ = render_job_request(
        persona=persona, beat=make_beat(**beat), requested_by=user, source="chat.message:1", idempotency_key=key
    )
    return job


def test_queued_running_succeeded_with_clip_poster_and_label(worker, persona, user, events):
    job = request(persona, user)
    wait_finished(job)
    assert job.status == "succeeded", job.error_detail
    assert job.attempts == 1 and job.started_at and job.finished_at and job.started_at <= job.finished_at
    assert job.progress_step == job.progress_total == 16
    info = encode.probe(job.clip.path)
    assert info["frames"] == 16 and info["duration_s"] == 1.0 and (info["width"], info["height"]) == (128, 72)
    assert info["metadata"]["comment"] == "AI-generated"
    assert job.poster.read(3) == b"\xff\xd8\xff"  # a JPEG
    assert labelling.read_manifest(job.clip.path)["actions"][0]["action"] == "c2pa.created"
    assert job.labels["self_signed"] is True and job.labels["c2pa"] is True
    kinds = wait_event(events, job, "done")
    assert kinds[0] == "queued" and kinds[-1] == "done" and "progress" in kinds
    assert set(kinds) <= {"queued", "progress", "done"}


def test_progress_events_are_throttled(worker, persona, user, events, settings):
    settings.RENDERER = "tests.rendering.fakes.SlowRenderer"
    job = request(persona, user, duration_s=2.0)  # 32 frames at 50 ms: ~1.6 s
    started = time.monotonic()
    wait_finished(job)
    elapsed = time.monotonic() - started
    progress = [e for e in events if e[1] == "progress"]
    assert job.status == "succeeded"
    assert 3 <= len(progress) <= elapsed * 5 + 3  # about five per second, not one per frame


def test_double_request_with_same_key_renders_once(worker, persona, user):
    first = request(persona, user, key="same")
    second = request(persona, user, key="same")
    assert first.pk == second.pk
    wait_finished(first)
    assert RenderJob.objects.count() == 1 and first.attempts == 1


def test_crash_inside_renderer_fails_with_user_visible_reason_without_retry(worker, persona, user, events, settings):
    settings.RENDERER = "tests.rendering.fakes.CrashingRenderer"
    fakes.CrashingRenderer.calls = 0
    job = request(persona, user)
    wait_finished(job)
    assert job.status == "failed" and job.attempts == 1 and fakes.CrashingRenderer.calls == 1
    # The user reads that it failed, not the exception (issue 11: no internal error text for users).
    assert "internal error" in job.error_detail and "tensor shape" not in job.error_detail and not job.clip
    assert wait_event(events, job, "failed")[-1] == "failed"
    # the worker is still alive and renders the next job
    settings.RENDERER = "previz"
    from rendering.renderers import reset_renderer

    reset_renderer()
    nxt = request(persona, user, key="next")
    assert wait_finished(nxt).status == "succeeded"


def test_transient_error_is_retried_then_succeeds(worker, persona, user, settings, events):
    settings.RENDERER = "tests.rendering.fakes.FlakyRenderer"
    fakes.FlakyRenderer.calls, fakes.FlakyRenderer.failures = 0, 1
    job = request(persona, user)
    wait_finished(job)
    assert job.status == "succeeded" and job.attempts == 2
    phases = [p for jid, e, p in events if jid == str(job.id)]
    assert "retrying" in phases


def test_transient_errors_exhaust_retries_then_dead_letter(worker, persona, user, settings, events):
    settings.RENDERER = "tests.rendering.fakes.FlakyRenderer"
    settings.RENDER_MAX_RETRIES = 2
    fakes.FlakyRenderer.calls, fakes.FlakyRenderer.failures = 0, 99
    job = request(persona, user)
    wait_finished(job)
    assert job.status == "failed" and job.attempts == 3 and fakes.FlakyRenderer.calls == 3
    assert "after 3 attempts" in job.error_detail and "out of memory" in job.error_detail
    assert wait_event(events, job, "failed")[-1] == "failed"


def test_cancel_while_running_stops_the_worker(worker, persona, user, settings, events):
    settings.RENDERER = "tests.rendering.fakes.SlowRenderer"
    job = request(persona, user, duration_s=10.0)  # 160 frames at 50 ms: 8 s if not cancelled
    wait_for(lambda: RenderJob.objects.get(pk=job.pk).progress_step > 0, timeout=30)
    render_job_cancel(job=job)
    assert job.status == "cancelled"
    # the worker notices and moves on to the next job well before the 8 s the clip would take
    settings.RENDERER = "previz"
    from rendering.renderers import reset_renderer

    reset_renderer()
    started = time.monotonic()
    nxt = request(persona, user, key="after-cancel")
    assert wait_finished(nxt, timeout=30).status == "succeeded"
    assert time.monotonic() - started < 6
    job.refresh_from_db()
    assert job.status == "cancelled" and not job.clip
    assert [e for jid, e, _ in events if jid == str(job.id)].count("cancelled") == 1
    assert "done" not in [e for jid, e, _ in events if jid == str(job.id)]


def test_cancel_queued_job_never_renders(persona, user, events, transactional_db):
    job = request(persona, user)  # no worker running: stays queued
    render_job_cancel(job=job)
    assert job.status == "cancelled"
    render_clip.fn(str(job.id))  # a late delivery does nothing
    job.refresh_from_db()
    assert job.status == "cancelled" and job.attempts == 0 and not job.clip


def test_redelivered_finished_job_does_nothing(worker, persona, user, events):
    job = wait_finished(request(persona, user))
    wait_event(events, job, "done")
    before = (job.finished_at, job.attempts, job.clip.name)
    count = len(events)
    render_clip.send(str(job.id))
    dramatiq.get_broker().join(QUEUE, timeout=30_000, fail_fast=False)  # the redelivery was processed
    worker.join()
    job.refresh_from_db()
    assert (job.finished_at, job.attempts, job.clip.name) == before
    assert len(events) == count


def _last_heartbeat(job, *, seconds_ago: float) -> None:
    """As if the worker holding ``job`` last said so ``seconds_ago`` (another process, or a dead one)."""
    from django.core.cache import cache

    from rendering.worker import HEARTBEAT_KEY

    cache.set(HEARTBEAT_KEY.format(job_id=job.pk), time.time() - seconds_ago, timeout=600)


def test_running_job_of_a_dead_worker_restarts_on_redelivery(worker, persona, user, settings):
    job = request(persona, user, key="orphan")
    wait_finished(job)
    # simulate a worker that claimed the job and died (its last heartbeat is stale): the broker redelivers it
    RenderJob.objects.filter(pk=job.pk).update(status="running", finished_at=None, clip="")
    _last_heartbeat(job, seconds_ago=settings.SWEEP_RENDER_STALE_S + 1)
    render_clip.send(str(job.id))
    wait_finished(job)
    assert job.status == "succeeded" and job.attempts == 2 and job.clip


def test_a_delivery_while_this_process_renders_the_job_does_not_render_it_twice(worker, persona, user, settings):
    """Issue 11: a render job redelivered while running ran twice (two GPU renders, two finishes)."""
    settings.RENDERER = "tests.rendering.fakes.SlowRenderer"
    job = request(persona, user, key="dup", duration_s=2.0)  # ~1.6 s of frames
    wait_for(lambda: RenderJob.objects.filter(pk=job.pk, status="running", progress_step__gt=0).exists())
    render_clip(str(job.id))  # the duplicate, delivered to another thread of this process
    job.refresh_from_db()
    assert job.status == "running" and job.attempts == 1  # not restarted
    wait_finished(job)
    assert job.status == "succeeded" and job.attempts == 1


def test_a_delivery_of_a_job_another_live_worker_holds_does_nothing(persona, user, settings, transactional_db):
    job = request(persona, user, key="elsewhere")
    RenderJob.objects.filter(pk=job.pk).update(status="running", attempts=1, phase="rendering")
    _last_heartbeat(job, seconds_ago=1)  # another machine's worker beat a second ago
    render_clip(str(job.id))
    job.refresh_from_db()
    assert job.status == "running" and job.attempts == 1 and job.phase == "rendering"
    _last_heartbeat(job, seconds_ago=settings.SWEEP_RENDER_STALE_S + 1)  # that worker died
    render_clip(str(job.id))
    job.refresh_from_db()
    assert job.status == "succeeded" and job.attempts == 2


def test_reel_assembles_clips_in_order(worker, persona, user):
    a = wait_finished(request(persona, user, key="a", duration_s=1.0, lighting="daylight"))
    b = wait_finished(request(persona, user, key="b", duration_s=2.0, lighting="moonlight"))
    reel, created = reel_request(jobs=[b, a], requested_by=user, source="conversation:1", idempotency_key="reel1")
    assert created and reel.kind == "reel" and reel.parts == [str(b.id), str(a.id)]
    wait_finished(reel)
    assert reel.status == "succeeded", reel.error_detail
    frames = list(encode.decode_frames(reel.clip.path))
    assert len(frames) == 48
    first_b, first_a = next(iter(encode.decode_frames(b.clip.path))), next(iter(encode.decode_frames(a.clip.path)))
    assert abs(frames[0].astype(int) - first_b).mean() < 6 and abs(frames[32].astype(int) - first_a).mean() < 6
    assert labelling.read_manifest(reel.clip.path)["validation_state"] == "Valid"


def test_reel_refuses_unfinished_clips(persona, user, transactional_db):
    from rendering.services import ReelInvalid

    job = request(persona, user)
    with pytest.raises(ReelInvalid):
        reel_request(jobs=[job], requested_by=user, source="s", idempotency_key="r")
