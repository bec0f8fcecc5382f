"""The clip <-> chat link is a model (companion.evolve.models.Clip), never a parsed string:
written with the job, read by plain joins, and made once for jobs stored before it existed."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from companion.chat.models import Conversation
from companion.evolve import services
from companion.evolve.models import Clip
from companion.evolve.payloads import job_payload
from companion.evolve.services import evolve_request
from rendering.models import JobKind, JobStatus, RenderJob
from rendering.signals import job_updated

pytestmark = pytest.mark.django_db

BEACH = "*smiles and walks toward you along the moonlit beach*"
migration = importlib.import_module("companion.evolve.migrations.0002_clips_from_sources")


def test_the_link_exists_before_the_job_is_announced(user, say, conversation, django_capture_on_commit_callbacks):
    """``queued`` is sent (and the worker may start) on commit: the Clip must already be there."""
    msg = say("persona", BEACH)
    seen = []

    def on_update(sender, job, event, **kwargs):
        seen.append((event, Clip.objects.filter(job=job).values_list("message_id", "conversation_id").first()))

    job_updated.connect(on_update)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            job, created = evolve_request(user=user, message=msg, client_id="c1")
    finally:
        job_updated.disconnect(on_update)
    assert created and seen == [("queued", (msg.pk, conversation.pk))]
    payload = job_payload(RenderJob.objects.get(pk=job.pk))
    assert (payload["message_id"], payload["conversation_id"]) == (msg.pk, conversation.pk)


def test_a_reel_is_linked_to_its_conversation_only(user, say, conversation):
    msg = say("persona", BEACH)
    job, _ = evolve_request(user=user, message=msg, client_id="c1")
    RenderJob.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED, clip="renders/clips/c1.mp4")
    reel, created = services.reel_create(user=user, conversation=conversation, job_ids=[str(job.pk)])
    assert created and reel.kind == JobKind.REEL
    assert (reel.chat_clip.conversation_id, reel.chat_clip.message_id) == (conversation.pk, None)
    assert job_payload(reel)["conversation_id"] == conversation.pk


def test_a_job_without_a_link_is_not_part_of_any_chat(user, say, conversation, persona):
    """A label that looks like a chat origin means nothing: only the Clip row counts."""
    msg = say("persona", BEACH)
    stray = RenderJob.objects.create(persona=persona, requested_by=user, idempotency_key="stray",
                                     source=f"chat.message:{msg.pk}", status=JobStatus.SUCCEEDED, clip="x.mp4")
    assert job_payload(stray)["message_id"] is None
    with pytest.raises(services.EvolveError) as err:
        services.reel_create(user=user, conversation=conversation, job_ids=[str(stray.pk)])
    assert err.value.code == "not_found"


def test_migration_links_jobs_stored_as_source_strings(user, say, conversation, persona):
    msg = say("persona", BEACH)
    gone = Conversation.objects.create(owner=user, persona=persona)
    gone_msg = say("persona", BEACH, conv=gone)
    gone_msg_id, gone_id = gone_msg.pk, gone.pk
    gone.delete()

    def job(key: str, source: str, kind: str = JobKind.CLIP) -> RenderJob:
        return RenderJob.objects.create(persona=persona, requested_by=user, idempotency_key=key, source=source,
                                        kind=kind)

    clip = job("clip", f"chat.message:{msg.pk}")
    reel = job("reel", f"chat.reel:{conversation.pk}", JobKind.REEL)
    for key, source in [("bench", "bench"), ("junk", "chat.message:x"), ("lost", f"chat.message:{gone_msg_id}"),
                        ("lost-reel", f"chat.reel:{gone_id}"), ("empty", "")]:
        job(key, source)

    migration.clips_from_sources(apps, None)
    migration.clips_from_sources(apps, None)  # running it again changes nothing
    assert sorted(Clip.objects.values_list("job_id", "message_id", "conversation_id")) == sorted(
        [(clip.pk, msg.pk, conversation.pk), (reel.pk, None, conversation.pk)]
    )
    migration.drop_clips(apps, None)
    assert not Clip.objects.exists() and RenderJob.objects.count() == 7  # the jobs and their labels stay
