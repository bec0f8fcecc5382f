"""A user can take all their data with them, and can delete their account and all of it."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from companion.accounts.privacy import user_account_delete
from companion.chat.models import Conversation, Message
from companion.memory.models import Memory, RelationshipState
from personas.models import Lorebook, LoreEntry, Persona
from rendering.models import JobStatus, RenderJob
from rendering.signals import job_updated
from tests.web.factories import PASSWORD, make_clip_job, make_persona, make_user, say

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    from companion.chat import services

    alice, bob = make_user("alice"), make_user("bob")
    public = make_persona("Mira")
    private = make_persona("Secret", owner=alice, private=True, portrait=True)
    alice_conv = services.conversation_start(owner=alice, persona=public)
    say(alice_conv, "My cat is called Tofu.")
    private_conv = services.conversation_start(owner=alice, persona=private)
    say(private_conv, "Just us here.")
    bob_conv = services.conversation_start(owner=bob, persona=public)
    say(bob_conv, "Bob's own words.")
    Memory.objects.create(user=alice, persona=public, conversation=alice_conv, text="Alice's cat is Tofu.")
    Memory.objects.create(user=bob, persona=public, conversation=bob_conv, text="Bob likes tea.")
    RelationshipState.objects.create(user=alice, persona=public, stage="friend")
    job = make_clip_job(
        alice_conv.messages.last(), persona=public, requested_by=alice, idempotency_key="a1",
        status=JobStatus.SUCCEEDED,
    )
    job.clip.save(f"{job.pk}.mp4", ContentFile(b"\x00\x00\x00\x18ftypmp42"), save=False)
    job.poster.save(f"{job.pk}.jpg", ContentFile(b"\xff\xd8\xff"), save=False)
    job.save()
    bob_job = RenderJob.objects.create(persona=public, requested_by=bob, idempotency_key="b1")
    alice_book = Lorebook.objects.create(owner=alice, name="Saltreach")
    LoreEntry.objects.create(book=alice_book, keys=["harbour"], content="The harbour freezes in winter.")
    bob_book = Lorebook.objects.create(owner=bob, name="Bob's world")
    return {"alice": alice, "bob": bob, "public": public, "private": private, "job": job, "bob_job": bob_job,
            "alice_conv": alice_conv, "bob_conv": bob_conv, "alice_book": alice_book, "bob_book": bob_book}


def _zip(response) -> dict[str, object]:
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content) if response.streaming else
                                         response.content))
    return {name: (json.loads(archive.read(name)) if name.endswith(".json") else archive.read(name).decode())
            for name in archive.namelist()}


def test_export_is_a_zip_of_everything_of_mine_and_nothing_of_others(client, world):
    client.force_login(world["alice"])
    response = client.get("/account/export/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="companion-export-alice-')
    files = _zip(response)
    assert {"README.txt", "account.json", "conversations.json", "memories.json", "relationships.json",
            "clips.json", "private_personas.json", "lorebooks.json"} <= set(files)
    assert files["account.json"]["username"] == "alice"
    texts = [m["content"] for c in files["conversations.json"] for m in c["messages"]]
    assert "My cat is called Tofu." in texts and "Just us here." in texts
    assert "Bob's own words." not in texts
    assert [m["text"] for m in files["memories.json"]] == ["Alice's cat is Tofu."]
    assert files["relationships.json"][0]["stage"] == "friend"
    assert [c["id"] for c in files["clips.json"]] == [str(world["job"].pk)]
    assert files["clips.json"][0]["clip_url"].endswith(f"{world['job'].pk}/video.mp4")
    assert [p["name"] for p in files["private_personas.json"]] == ["Secret"]
    # her world books as the cards they import from; not Bob's
    assert [b["name"] for b in files["lorebooks.json"]] == ["Saltreach"]
    assert [(e["keys"], e["content"]) for e in files["lorebooks.json"][0]["entries"]] == [
        (["harbour"], "The harbour freezes in winter.")]


def test_export_needs_a_login(client):
    response = client.get("/account/export/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_delete_needs_the_password(client, world):
    client.force_login(world["alice"])
    response = client.post("/account/delete/", {"password": "wrong", "confirm": "on"})
    assert response.status_code == 400
    assert get_user_model().objects.filter(username="alice").exists()
    assert client.get("/account/delete/").status_code == 200  # still signed in


def test_delete_removes_my_data_and_files_and_keeps_everyone_elses(client, world, django_capture_on_commit_callbacks):
    alice, job = world["alice"], world["job"]
    clip_name, poster_name = job.clip.name, job.poster.name
    portrait_name = world["private"].portrait.name
    assert default_storage.exists(clip_name) and default_storage.exists(portrait_name)
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/account/delete/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 302
    assert not get_user_model().objects.filter(username="alice").exists()
    assert not Conversation.objects.filter(owner_id=alice.pk).exists()
    assert not Memory.objects.filter(user_id=alice.pk).exists()
    assert not RelationshipState.objects.filter(user_id=alice.pk).exists()
    assert not RenderJob.objects.filter(pk=job.pk).exists()
    assert not Persona.objects.filter(pk=world["private"].pk).exists()
    assert not Lorebook.objects.filter(pk=world["alice_book"].pk).exists()
    assert not LoreEntry.objects.filter(book_id=world["alice_book"].pk).exists()
    for name in (clip_name, poster_name, portrait_name):
        assert not default_storage.exists(name), name
    # Bob and the public persona are untouched.
    assert Conversation.objects.filter(pk=world["bob_conv"].pk).exists()
    assert Message.objects.filter(conversation=world["bob_conv"]).count() == 3  # greeting + exchange
    assert Memory.objects.filter(user=world["bob"]).count() == 1
    assert RenderJob.objects.filter(pk=world["bob_job"].pk).exists()
    assert Persona.objects.filter(pk=world["public"].pk).exists()
    assert Lorebook.objects.filter(pk=world["bob_book"].pk).exists()
    # Signed out: the session is gone with the account.
    assert client.get("/account/export/").status_code == 302


def test_delete_cancels_my_unfinished_renders_through_rendering(world):
    # Rendering's own cancel (the worker stops between steps, its sockets hear render.cancelled),
    # not a row update behind its back; Bob's queued job is not touched.
    alice = world["alice"]
    running = RenderJob.objects.create(persona=world["public"], requested_by=alice, idempotency_key="a2",
                                       status=JobStatus.RUNNING)
    events = []

    def record(sender, *, job, event, **kwargs):
        events.append((str(job.pk), event))

    job_updated.connect(record, dispatch_uid="test.privacy.cancel")
    try:
        user_account_delete(user=alice)
    finally:
        job_updated.disconnect(dispatch_uid="test.privacy.cancel")
    assert events == [(str(running.pk), "cancelled")]  # the finished clip has nothing to cancel
    assert not RenderJob.objects.filter(pk=running.pk).exists()
    assert RenderJob.objects.get(pk=world["bob_job"].pk).status == JobStatus.QUEUED


def test_delete_form_is_csrf_protected(world):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(world["alice"])
    response = csrf_client.post("/account/delete/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 403
    assert get_user_model().objects.filter(username="alice").exists()


def test_the_account_page_is_linked_from_every_page_and_offers_the_export(client, world):
    client.force_login(world["alice"])
    home = client.get("/")
    assert 'href="/account/"' in home.content.decode()
    account = client.get("/account/").content.decode()
    assert 'href="/account/export/"' in account and 'href="/account/delete/"' in account
    assert 'href="/account/export/"' in client.get("/account/delete/").content.decode()
