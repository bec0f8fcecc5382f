"""World books over REST: create, list, attach to a conversation (its entries then fire), detach; private."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from companion.chat.prompt import prompt_build
from companion.chat.services import message_create
from companion.llm.scripted import ScriptedBackend

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _only_our_providers(monkeypatch):
    monkeypatch.setattr("companion.chat.prompt._providers", [])


def say(conversation, role, text):
    return message_create(conversation=conversation, role=role, kind="text", content=text, status="complete")


def build(conversation):
    return prompt_build(conversation=conversation, backend=ScriptedBackend(), budget_tokens=2000)



WORLD = {
    "name": "The coast",
    "scan_depth": 3,
    "extensions": {"tool": {"v": 2}},
    "x_unknown": [1, 2],
    "entries": [
        {"keys": ["harbour"], "content": "The harbour is full of red boats.", "enabled": True,
         "insertion_order": 1, "extensions": {"display_index": 0}, "id": 4},
    ],
}


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_world_books_create_list_attach_detach_and_fire(alice_conversation, alice):
    conversation = alice_conversation
    client = api(alice)
    created = client.post("/api/lorebooks/", WORLD, format="json")
    assert created.status_code == 201, created.content
    book_id = created.json()["id"]
    # the card shape, unknown fields kept, the spec's book fields filled in
    assert created.json()["book"] == {**WORLD, "description": "", "recursive_scanning": False}
    listed = client.get("/api/lorebooks/").json()
    assert [b["id"] for b in listed.get("results", listed)] == [book_id]

    say(conversation, "user", "Let's walk to the harbour.")
    assert "red boats" not in build(conversation).turns[0].content
    attached = client.post(f"/api/lorebooks/{book_id}/attach/", {"conversation": conversation.pk}, format="json")
    assert attached.status_code == 200 and attached.json()["conversations"] == [conversation.pk]
    built = build(conversation)
    assert "The harbour is full of red boats." in built.turns[0].content
    assert built.compact()["lore"][0]["book"] == f"world:{book_id}"

    detached = client.post(f"/api/lorebooks/{book_id}/detach/", {"conversation": conversation.pk}, format="json")
    assert detached.status_code == 200 and detached.json()["conversations"] == []
    assert "red boats" not in build(conversation).turns[0].content


def test_world_books_are_private_to_their_owner(alice_conversation, alice, bob, bob_conversation):
    conversation = alice_conversation
    book_id = api(alice).post("/api/lorebooks/", WORLD, format="json").json()["id"]
    stranger = api(bob)
    assert stranger.get(f"/api/lorebooks/{book_id}/").status_code == 404
    listed = stranger.get("/api/lorebooks/").json()
    assert listed.get("results", listed) == []
    refused = stranger.post(f"/api/lorebooks/{book_id}/attach/", {"conversation": conversation.pk}, format="json")
    assert refused.status_code == 404
    # nor can the owner attach their book to someone else's conversation
    refused = api(alice).post(f"/api/lorebooks/{book_id}/attach/", {"conversation": bob_conversation.pk},
                              format="json")
    assert refused.status_code == 404
    assert stranger.delete(f"/api/lorebooks/{book_id}/").status_code == 404
    assert api(alice).delete(f"/api/lorebooks/{book_id}/").status_code == 204


def test_a_malformed_world_book_gets_a_field_error(alice):
    response = api(alice).post("/api/lorebooks/", {"name": "x", "entries": [{"keys": "not a list"}]}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and "entries" in body
