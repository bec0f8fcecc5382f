"""REST: POST /api/conversations/<id>/branch/ {message_id} and GET /api/conversations/<id>/branches/."""

from __future__ import annotations

import pytest

from companion.chat.models import Conversation
from tests.web.factories import say

pytestmark = pytest.mark.django_db


def test_branch_opens_a_new_conversation_with_the_history_up_to_the_message(alice_client, alice_conversation):
    say(alice_conversation, "Where is the key?", "Under the mat.")
    point = alice_conversation.messages.order_by("-seq").first()
    say(alice_conversation, "And the lamp?", "On the hook.")

    response = alice_client.post(f"/api/conversations/{alice_conversation.pk}/branch/", {"message_id": point.pk},
                                 content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["parent_id"] == alice_conversation.pk and body["branched_from_id"] == point.pk
    assert body["last_message_preview"] == "Under the mat."

    messages = alice_client.get(f"/api/conversations/{body['id']}/messages/").json()["results"]
    assert [m["content"] for m in messages][-2:] == ["Where is the key?", "Under the mat."]

    tree = alice_client.get(f"/api/conversations/{alice_conversation.pk}/branches/").json()
    assert [(n["id"], n["depth"], n["parent_id"]) for n in tree] == [
        (alice_conversation.pk, 0, None), (body["id"], 1, alice_conversation.pk)]
    assert tree[0]["branched_from"] is None
    assert tree[1]["branched_from"] == {"message_id": point.pk, "seq": point.seq, "role": "persona",
                                        "snippet": "Under the mat."}


def test_a_message_of_another_conversation_is_a_404(client, alice, bob, alice_conversation, bob_conversation):
    say(alice_conversation, "A secret about the key.", "Kept.")
    alices = alice_conversation.messages.order_by("-seq").first()
    client.force_login(bob)
    # Bob's own conversation, Alice's message id: not found, nothing made.
    response = client.post(f"/api/conversations/{bob_conversation.pk}/branch/", {"message_id": alices.pk},
                           content_type="application/json")
    assert response.status_code == 404
    assert Conversation.objects.filter(parent__isnull=False).count() == 0


def test_missing_message_id_is_a_validation_error(alice_client, alice_conversation):
    response = alice_client.post(f"/api/conversations/{alice_conversation.pk}/branch/", {},
                                 content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
