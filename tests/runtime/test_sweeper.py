"""The sweeper retries or ends work whose process died (embedded: SQLite, stub broker)."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import dramatiq
import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from companion.chat import services as chat_services
from companion.chat.models import Message
from companion.runtime import sweeper
from rendering import actors
from rendering.models import JobStatus, RenderJob
from rendering.signals import job_updated
from rendering.worker import heartbeat_write
from tests.web.factories import make_persona, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean():
    cache.clear()
    broker = dramatiq.get_broker()
    broker.flush_all()
    yield
    broker.flush_all()


@pytest.fixture
def events():
    seen: list[tuple[str, str]] = []

    def receiver(sender, *, job, event, **kwargs):
        seen.append((str(job.pk), event))

    job_updated.connect(receiver, dispatch_uid="test-sweeper")
    yield seen
    job_updated.disconnect(dispatch_uid="test-sweeper")


def _job(*, status: str, age_s: float, attempts: int = 1) -> RenderJob:
    persona = make_persona("Mira")
    then = timezone.now() - timedelta(seconds=age_s)
    job = RenderJob.objects.create(
        persona=persona, idempotency_key=f"k-{RenderJob.objects.count()}", status=status, attempts=attempts,
        started_at=then if status == JobStatus.RUNNING else None, phase="rendering",
    )
    RenderJob.objects.filter(pk=job.pk).update(queued_at=then)
    job.refresh_from_db()
    return job


def _pending_render_messages() -> list[str]:
    queue = dramatiq.get_broker().queues[actors.QUEUE]
    return [str(dramatiq.get_encoder().decode(m)["args"][0]) if isinstance(m, bytes) else str(m.args[0])
            for m in list(queue.queue)]


def test_a_running_job_without_heartbeat_is_requeued(events):
    job = _job(status=JobStatus.RUNNING, age_s=300, attempts=1)
    report = sweeper.sweep(render_stale_s=60, lost_s=60, stream_stale_s=120)
    job.refresh_from_db()
    assert report.requeued_running == [str(job.pk)]
    assert job.status == JobStatus.QUEUED and job.phase == "requeued"
    assert _pending_render_messages() == [str(job.pk)]
    assert (str(job.pk), "progress") in events  # the chat shows it is being retried


def test_a_running_job_with_a_fresh_heartbeat_is_left_alone():
    job = _job(status=JobStatus.RUNNING, age_s=300)
    heartbeat_write(job_ids=[str(job.pk)])
    report = sweeper.sweep(render_stale_s=60, lost_s=60, stream_stale_s=120)
    job.refresh_from_db()
    assert report.changed == 0 and job.status == JobStatus.RUNNING
    assert _pending_render_messages() == []


def test_a_recently_started_job_is_left_alone():
    job = _job(status=JobStatus.RUNNING, age_s=5)
    assert sweeper.sweep(render_stale_s=60, lost_s=60, stream_stale_s=120).changed == 0
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING


def test_a_job_out_of_attempts_fails_visibly(events, settings):
    job = _job(status=JobStatus.RUNNING, age_s=300, attempts=settings.RENDER_MAX_RETRIES + 1)
    report = sweeper.sweep(render_stale_s=60, lost_s=60, stream_stale_s=120)
    job.refresh_from_db()
    assert report.failed == [str(job.pk)]
    assert job.status == JobStatus.FAILED and job.finished_at is not None
    assert "stopped responding" in job.error_detail
    assert (str(job.pk), "failed") in events
    assert _pending_render_messages() == []


def test_a_queued_job_whose_message_was_lost_is_requeued_once():
    job = _job(status=JobStatus.QUEUED, age_s=300)
    first = sweeper.sweep(render_stale_s=60, lost_s=60, stream_stale_s=120)
    assert first.requeued_lost == [str(job.pk)]
    assert _pending_render_messages() == [str(job.pk)]
    second = sweeper.sweep(render_stale_s=60, lost_s=60, stream_stale_s=120)
    assert second.requeued_lost == []  # its message is pending now
    assert _pending_render_messages() == [str(job.pk)]


def test_finished_jobs_are_never_touched():
    done = _job(status=JobStatus.SUCCEEDED, age_s=3000)
    failed = _job(status=JobStatus.FAILED, age_s=3000)
    assert sweeper.sweep(render_stale_s=0, lost_s=0, stream_stale_s=0).changed == 0
    assert RenderJob.objects.get(pk=done.pk).status == JobStatus.SUCCEEDED
    assert RenderJob.objects.get(pk=failed.pk).status == JobStatus.FAILED


def test_an_orphaned_streaming_reply_is_interrupted_with_its_text_kept():
    user = make_user("alice")
    conversation = chat_services.conversation_start(owner=user, persona=make_persona("Mira"))
    _, _, reply = chat_services.exchange_begin(conversation=conversation, text="hi", client_id="c1")
    chat_services.reply_save_progress(message_id=reply.pk, content="Hello the")
    Message.objects.filter(pk=reply.pk).update(updated_at=timezone.now() - timedelta(seconds=600))

    report = sweeper.sweep(render_stale_s=60, lost_s=60, stream_stale_s=120)
    reply.refresh_from_db()
    assert report.interrupted_replies == [reply.pk]
    assert reply.status == Message.Status.INTERRUPTED
    assert reply.content == "Hello the"
    # history.sync after seq N sees the change (the reply got a new changed_seq)
    conversation.refresh_from_db()
    assert reply.changed_seq == conversation.last_seq


def test_a_live_streaming_reply_is_left_alone():
    user = make_user("bob")
    conversation = chat_services.conversation_start(owner=user, persona=make_persona("Mira"))
    _, _, reply = chat_services.exchange_begin(conversation=conversation, text="hi", client_id="c1")
    assert sweeper.sweep(render_stale_s=60, lost_s=60, stream_stale_s=120).interrupted_replies == []
    reply.refresh_from_db()
    assert reply.status == Message.Status.STREAMING


def test_sweep_jobs_command_reports_what_it_did():
    job = _job(status=JobStatus.RUNNING, age_s=300)
    out = StringIO()
    call_command("sweep_jobs", "--render-stale-s", "60", stdout=out)
    report = json.loads(out.getvalue())
    assert report["requeued_running"] == [str(job.pk)]


def test_only_one_process_sweeps_per_interval(settings):
    settings.SWEEP_INTERVAL_S = 30
    assert sweeper.sweep_if_due() is not None
    assert sweeper.sweep_if_due() is None  # the lock is held by the first pass
