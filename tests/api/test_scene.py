"""REST for group scenes: GET/POST /api/conversations/<id>/members/, PATCH/DELETE .../members/<persona id>/,
POST .../turn_order/; the messages carry who wrote each reply. Another user's conversation is a 404."""

from __future__ import annotations

import pytest

from companion.chat.models import ConversationMember
from tests.web.factories import make_persona, say

pytestmark = pytest.mark.django_db


def _post(client, url: str, body: dict):
    return client.post(url, body, content_type="application/json")


def test_members_are_added_muted_and_removed(alice_client, alice_conversation, public_persona):
    base = f"/api/conversations/{alice_conversation.pk}/members/"
    assert [m["persona"]["name"] for m in alice_client.get(base).json()] == ["Mira"]
    jonas = make_persona("Jonas")
    response = _post(alice_client, base, {"persona": jonas.slug})
    assert response.status_code == 201, response.content
    body = response.json()
    assert [(m["persona"]["name"], m["position"], m["primary"], m["muted"]) for m in body] == [
        ("Mira", 0, True, False), ("Jonas", 1, False, False)]
    assert body[1]["joined_at_seq"] == alice_conversation.messages.count()  # after the greeting

    muted = alice_client.patch(f"{base}{jonas.pk}/", {"mute_minutes": 15}, content_type="application/json")
    assert muted.status_code == 200 and muted.json()[1]["muted"] is True and muted.json()[1]["muted_until"]
    unmuted = alice_client.patch(f"{base}{jonas.pk}/", {"mute_minutes": 0}, content_type="application/json")
    assert unmuted.json()[1]["muted"] is False

    refused = alice_client.delete(f"{base}{public_persona.pk}/")
    assert refused.status_code == 400 and refused.json()["code"] == "not_removable"
    assert alice_client.delete(f"{base}{jonas.pk}/").status_code == 200
    assert [m["persona"]["name"] for m in alice_client.get(base).json()] == ["Mira"]


def test_adding_a_sixth_persona_or_an_invisible_one_is_refused(alice_client, alice_conversation, bob):
    base = f"/api/conversations/{alice_conversation.pk}/members/"
    for name in ("A", "B", "C", "D"):
        assert _post(alice_client, base, {"persona": make_persona(name).slug}).status_code == 201
    too_many = _post(alice_client, base, {"persona": make_persona("E").slug})
    assert too_many.status_code == 400 and too_many.json()["code"] == "too_many"
    bobs = make_persona("Bobs", owner=bob, private=True)
    ConversationMember.objects.filter(conversation=alice_conversation, position=4).delete()
    hidden = _post(alice_client, base, {"persona": bobs.slug})
    assert hidden.status_code == 400 and hidden.json()["code"] == "invalid"


def test_turn_order_is_set_and_shown(alice_client, alice_conversation):
    url = f"/api/conversations/{alice_conversation.pk}/turn_order/"
    response = _post(alice_client, url, {"turn_order": "manual"})
    assert response.status_code == 200 and response.json()["turn_order"] == "manual"
    assert _post(alice_client, url, {"turn_order": "shuffle"}).json()["code"] == "invalid"


def test_messages_name_the_persona_of_each_reply(alice_client, alice_conversation):
    jonas = make_persona("Jonas")
    _post(alice_client, f"/api/conversations/{alice_conversation.pk}/members/", {"persona": jonas.slug})
    say(alice_conversation, "Jonas, hello", "Aye.")
    rows = alice_client.get(f"/api/conversations/{alice_conversation.pk}/messages/").json()["results"]
    assert [(m["role"], m["speaker"]) for m in rows] == [("persona", "Mira"), ("user", None), ("persona", "Jonas")]
    assert rows[-1]["persona_id"] == jonas.pk and set(rows[-1]["witnesses"]) == {
        alice_conversation.persona_id, jonas.pk}


def test_someone_elses_scene_is_a_404(client, bob, alice_conversation):
    client.force_login(bob)
    base = f"/api/conversations/{alice_conversation.pk}/members/"
    assert client.get(base).status_code == 404
    assert _post(client, base, {"persona": make_persona("Jonas").slug}).status_code == 404
    assert client.patch(f"{base}{alice_conversation.persona_id}/", {"mute_minutes": 5},
                        content_type="application/json").status_code == 404
    assert not ConversationMember.objects.exists()
