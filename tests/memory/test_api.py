"""The Memory panel API: listing with sources, edit, forget, relationship timeline; owner-scoped."""

from __future__ import annotations

import pytest
from django.test import Client

from companion.chat.models import Conversation
from companion.chat.services import message_create
from companion.memory.models import Memory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(user):
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def bob(other_user):
    c = Client()
    c.force_login(other_user)
    return c


def test_list_memories_with_source_snippets(alice, play, conversation):
    um, _ = play.say("My name is Sam and I have a dog named Biscuit.")
    r = alice.get(f"/api/memory/conversations/{conversation.pk}/memories/")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 2
    dog = next(m for m in body["results"] if "Biscuit" in m["text"])
    assert dog["layer"] == "semantic" and dog["text"] == "Alice has a dog named Biscuit."
    text = "My name is Sam and I have a dog named Biscuit."
    assert dog["sources"] == [
        {"id": um.pk, "conversation_id": conversation.pk, "seq": um.seq, "role": "user", "speaker": "",
         "snippet": text, "content": text, "created_at": dog["sources"][0]["created_at"], "extra": None}
    ]
    # Every turn of both speakers is in the episodic layer.
    turns = alice.get(f"/api/memory/conversations/{conversation.pk}/memories/?layer=episodic").json()
    assert sorted(m["text"] for m in turns["results"]) == ["Alice: " + text, "Mira: I see."]
    assert alice.get(f"/api/memory/conversations/{conversation.pk}/memories/?layer=all").json()["count"] == 4


def test_edit_and_forget(alice, play, conversation, user):
    play.say("I love jazz.")
    memory = Memory.objects.get(user=user, layer="semantic")
    r = alice.patch(f"/api/memory/memories/{memory.pk}/", {"text": "The user loves 1950s jazz."},
                    content_type="application/json")
    assert r.status_code == 200 and r.json()["text"] == "The user loves 1950s jazz."
    assert r.json()["edited_by_user"] is True
    from companion.memory.selectors import memories_recall

    assert memories_recall(user=user, persona=conversation.persona, query="1950s", k=1)[0].memory.pk == memory.pk
    assert alice.patch(f"/api/memory/memories/{memory.pk}/", {"text": ""},
                       content_type="application/json").status_code == 400
    assert alice.delete(f"/api/memory/memories/{memory.pk}/").status_code == 204
    assert not Memory.objects.filter(pk=memory.pk).exists()


def test_other_users_get_404_everywhere(bob, play, conversation, user):
    play.say("My name is Sam.")
    memory = Memory.objects.get(user=user, layer="semantic")
    for url in [
        f"/api/memory/conversations/{conversation.pk}/memories/",
        f"/api/memory/conversations/{conversation.pk}/relationship/",
        f"/api/memory/conversations/{conversation.pk}/recall/?q=name",
        f"/api/memory/memories/{memory.pk}/",
    ]:
        assert bob.get(url).status_code == 404, url
    assert bob.patch(f"/api/memory/memories/{memory.pk}/", {"text": "pwned"},
                     content_type="application/json").status_code == 404
    assert bob.delete(f"/api/memory/memories/{memory.pk}/").status_code == 404
    memory.refresh_from_db()
    assert memory.text == "The user's name is Sam."


def test_bob_sees_only_his_own_memories_of_the_same_persona(bob, play, other_user, persona):
    play.say("My name is Sam.")  # alice's
    bobs = Conversation.objects.create(owner=other_user, persona=persona)
    r = bob.get(f"/api/memory/conversations/{bobs.pk}/memories/")
    assert r.status_code == 200 and r.json()["results"] == []


def test_anonymous_is_refused(play, conversation):
    assert Client().get(f"/api/memory/conversations/{conversation.pk}/memories/").status_code in (401, 403)


def test_relationship_and_timeline(alice, play, conversation):
    um, _ = play.say("Hello!")
    r = alice.get(f"/api/memory/conversations/{conversation.pk}/relationship/")
    body = r.json()
    assert body["stage"] == "stranger" and body["exchanges"] == 1
    assert [s["name"] for s in body["stages"]][:2] == ["stranger", "acquaintance"]
    assert body["timeline"][0]["kind"] == "first_meeting"
    assert body["timeline"][0]["message_id"] == um.pk


def test_recall_endpoint_returns_score_parts(alice, play, conversation):
    play.say("I have a dog named Biscuit.")
    r = alice.get(f"/api/memory/conversations/{conversation.pk}/recall/?q=pet&k=3")
    body = r.json()
    top = body["results"][0]
    assert body["query"] == "pet" and body["plan"]["parts"] == ["pet"]
    # One result per turn: the fact read from the turn, or the turn itself, whichever ranks higher.
    assert top["memory"]["text"] in ("Alice has a dog named Biscuit.", "Alice: I have a dog named Biscuit.")
    assert top["layer"] == top["memory"]["layer"] and top["rank"] == 1
    assert set(top["parts"]) == {"dense", "bm25", "recency", "importance"}
    assert top["memory"]["sources"][0]["content"] == "I have a dog named Biscuit."
    facts = alice.get(f"/api/memory/conversations/{conversation.pk}/recall/?q=pet&k=3&layer=semantic").json()
    assert [x["memory"]["text"] for x in facts["results"]] == ["Alice has a dog named Biscuit."]


def test_prompt_debug_is_for_staff_in_their_own_conversations(alice, user, conversation, other_user):
    reply = message_create(conversation=conversation, role="persona", kind="text", content="hi",
                           status="complete", extra={"prompt": {"system": "You are Mira."}})
    url = f"/api/memory/debug/prompt/{reply.pk}/"
    assert alice.get(url).status_code == 403  # the owner, not staff
    other_user.is_staff = True
    other_user.save()
    staff = Client()
    staff.force_login(other_user)
    assert staff.get(url).status_code == 404  # staff, but someone else's conversation stays private
    user.is_staff = True
    user.save()
    r = alice.get(url)
    assert r.status_code == 200 and r.json()["prompt"] == {"system": "You are Mira."}


def test_chat_page_includes_the_memory_panel_for_its_owner_only(alice, bob, conversation):
    page = alice.get(f"/conversations/{conversation.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="memory-panel"' in html and "js/memory.js" in html
    assert f'data-conversation-id="{conversation.pk}"' in html
    assert bob.get(f"/conversations/{conversation.pk}/").status_code == 404
