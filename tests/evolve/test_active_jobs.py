"""A reloaded chat page learns the renders still in progress: the selector, the page's
json_script and GET /api/evolve/jobs/ (all scoped to the conversation's owner)."""

from __future__ import annotations

import json
import re

import pytest
from django.utils import timezone

from companion.chat.models import Conversation
from companion.evolve.selectors import render_jobs_of_conversation
from companion.evolve.services import evolve_request
from rendering.beat import RenderDirection
from rendering.models import JobStatus

pytestmark = pytest.mark.django_db

BEACH = "*smiles and walks toward you along the moonlit beach*"


def _finish(job, status=JobStatus.SUCCEEDED):
    job.status = status
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "finished_at"])


@pytest.fixture
def jobs(user, say, persona, other_user):
    """In the user's conversation: one running, one queued, one finished job; in another
    conversation of the same user: one queued job; and a queued job of someone else."""
    msg = say("persona", BEACH)
    running, _ = evolve_request(user=user, message=msg, client_id="a")
    running.status, running.progress_step, running.progress_total, running.phase = "running", 7, 48, "rendering"
    running.save()
    queued, _ = evolve_request(user=user, message=msg, client_id="b", direction=RenderDirection(camera="orbit"))
    done, _ = evolve_request(user=user, message=msg, client_id="c", direction=RenderDirection(camera="static"))
    _finish(done)
    elsewhere = Conversation.objects.create(owner=user, persona=persona, title="other")
    other_msg = say("persona", BEACH, conv=elsewhere)
    in_other_conversation, _ = evolve_request(user=user, message=other_msg, client_id="d")
    strangers = Conversation.objects.create(owner=other_user, persona=persona, title="sam's")
    stranger_msg = say("persona", BEACH, conv=strangers)
    stranger_job, _ = evolve_request(user=other_user, message=stranger_msg, client_id="e")
    return {
        "msg": msg, "running": running, "queued": queued, "done": done,
        "elsewhere": elsewhere, "in_other_conversation": in_other_conversation,
        "strangers": strangers, "stranger_job": stranger_job,
    }


def test_selector_lists_only_active_jobs_of_this_conversation(user, conversation, jobs):
    active = list(render_jobs_of_conversation(user=user, conversation=conversation))
    assert {j.pk for j in active} == {jobs["running"].pk, jobs["queued"].pk}
    everything = render_jobs_of_conversation(user=user, conversation=conversation, active_only=False)
    assert {j.pk for j in everything} == {jobs["running"].pk, jobs["queued"].pk, jobs["done"].pk}
    other = render_jobs_of_conversation(user=user, conversation=jobs["elsewhere"])
    assert [j.pk for j in other] == [jobs["in_other_conversation"].pk]


def test_selector_is_owner_scoped(user, other_user, conversation, jobs):
    from django.contrib.auth.models import AnonymousUser

    assert list(render_jobs_of_conversation(user=other_user, conversation=conversation)) == []
    assert list(render_jobs_of_conversation(user=AnonymousUser(), conversation=conversation)) == []
    assert list(render_jobs_of_conversation(user=user, conversation=jobs["strangers"])) == []
    assert [j.pk for j in render_jobs_of_conversation(user=other_user, conversation=jobs["strangers"])] == [
        jobs["stranger_job"].pk
    ]


def test_a_job_disappears_from_the_list_when_it_finishes(user, conversation, jobs):
    _finish(jobs["queued"], JobStatus.CANCELLED)
    _finish(jobs["running"], JobStatus.FAILED)
    assert list(render_jobs_of_conversation(user=user, conversation=conversation)) == []


def _boot_jobs(html: str) -> list[dict]:
    match = re.search(r'<script id="evolve-active-jobs" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the chat page carries no #evolve-active-jobs"
    return json.loads(match.group(1))


def test_chat_page_carries_the_active_jobs(client, user, conversation, jobs):
    client.force_login(user)
    html = client.get(f"/conversations/{conversation.pk}/").content.decode()
    listed = {j["id"]: j for j in _boot_jobs(html)}
    assert set(listed) == {str(jobs["running"].pk), str(jobs["queued"].pk)}
    running = listed[str(jobs["running"].pk)]
    assert running["message_id"] == jobs["msg"].pk
    assert (running["status"], running["progress_step"], running["progress_total"]) == ("running", 7, 48)
    assert running["clip_url"] is None


def test_chat_page_of_a_conversation_without_renders_carries_an_empty_list(client, user, persona):
    fresh = Conversation.objects.create(owner=user, persona=persona, title="fresh")
    client.force_login(user)
    assert _boot_jobs(client.get(f"/conversations/{fresh.pk}/").content.decode()) == []


def test_api_lists_active_jobs_for_the_owner(client, user, conversation, jobs):
    client.force_login(user)
    response = client.get(f"/api/evolve/jobs/?conversation={conversation.pk}&active=1")
    assert response.status_code == 200
    body = response.json()
    assert body["conversation_id"] == conversation.pk
    assert {j["id"] for j in body["jobs"]} == {str(jobs["running"].pk), str(jobs["queued"].pk)}
    assert all(j["message_id"] == jobs["msg"].pk for j in body["jobs"])
    everything = client.get(f"/api/evolve/jobs/?conversation={conversation.pk}&active=0").json()["jobs"]
    assert str(jobs["done"].pk) in {j["id"] for j in everything} and len(everything) == 3


def test_api_someone_elses_conversation_is_not_found(client, other_user, conversation, jobs):
    client.force_login(other_user)
    response = client.get(f"/api/evolve/jobs/?conversation={conversation.pk}&active=1")
    assert response.status_code == 404
    assert "jobs" not in response.json()
    assert client.get("/api/evolve/jobs/?conversation=nope").status_code == 400
    assert client.get("/api/evolve/jobs/").status_code == 400


def test_api_needs_a_login(client, conversation, jobs):
    response = client.get(f"/api/evolve/jobs/?conversation={conversation.pk}")
    assert response.status_code in (401, 403)
