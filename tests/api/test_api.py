"""REST API: every endpoint, owner scoping, token auth, OpenAPI schema."""

from __future__ import annotations

import pytest
import yaml
from drf_spectacular.validation import validate_schema
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from companion.chat import services
from companion.chat.models import Conversation
from tests.web.factories import PASSWORD, make_persona, say

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(alice) -> APIClient:
    client = APIClient()
    client.force_authenticate(alice)
    return client


# --- authentication -------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/personas/", "/api/conversations/"])
def test_anonymous_requests_are_refused(url, public_persona):
    response = APIClient().get(url)
    assert response.status_code in (401, 403)
    assert "results" not in response.json()


def test_token_auth_round_trip(alice, alice_conversation):
    client = APIClient()
    response = client.post("/api/auth/token/", {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert Token.objects.get(user=alice).key == token
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    listed = client.get("/api/conversations/").json()["results"]
    assert [c["id"] for c in listed] == [alice_conversation.pk]


def test_token_endpoint_rejects_a_wrong_password(alice):
    response = APIClient().post("/api/auth/token/", {"username": "alice", "password": "wrong"}, format="json")
    assert response.status_code == 400
    assert "token" not in response.json()


def test_bad_token_is_refused(alice):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/conversations/")
    # 403 rather than 401: session auth is listed first, and it sends no WWW-Authenticate challenge.
    assert response.status_code in (401, 403)
    assert "results" not in response.json()


def test_session_auth_works(client, alice, alice_conversation):
    client.force_login(alice)
    response = client.get("/api/conversations/")
    assert response.status_code == 200
    assert response.json()["results"][0]["id"] == alice_conversation.pk


# --- personas ----------------------------------------------------------------------------


def test_persona_list_shows_public_and_own_private_only(api, alice, bob, public_persona):
    make_persona("Alices Secret", owner=alice, private=True)
    make_persona("Bobs Secret", owner=bob, private=True)
    names = {p["name"] for p in api.get("/api/personas/").json()["results"]}
    assert names == {"Mira", "Alices Secret"}


def test_persona_detail_by_slug_and_id(api, public_persona):
    by_slug = api.get(f"/api/personas/{public_persona.slug}/").json()
    by_id = api.get(f"/api/personas/{public_persona.pk}/").json()
    assert by_slug == by_id
    assert by_slug["name"] == "Mira" and by_slug["tagline"] == "A lighthouse keeper"
    # The portrait URL is the checked view, not a raw MEDIA_URL path.
    assert by_slug["portrait_url"].endswith(f"/personas/{public_persona.slug}/portrait/")
    assert "system_prompt" not in by_slug and "video_lora" not in by_slug


def test_someone_elses_private_persona_is_404(api, bob):
    hidden = make_persona("Bobs Secret", owner=bob, private=True)
    assert api.get(f"/api/personas/{hidden.slug}/").status_code == 404
    assert api.get(f"/api/personas/{hidden.pk}/").status_code == 404


# --- conversations ---------------------------------------------------------------------------


def test_create_conversation(api, alice, public_persona):
    response = api.post("/api/conversations/", {"persona": public_persona.slug}, format="json")
    assert response.status_code == 201
    body = response.json()
    conversation = Conversation.objects.get(pk=body["id"])
    assert conversation.owner == alice and conversation.persona == public_persona
    assert body["persona"]["slug"] == public_persona.slug
    assert body["persona"]["portrait_url"].endswith("/portrait/")


def test_create_conversation_with_invisible_or_unknown_persona_fails(api, bob):
    hidden = make_persona("Bobs Secret", owner=bob, private=True)
    for persona in (hidden.slug, "no-such-persona", ""):
        response = api.post("/api/conversations/", {"persona": persona}, format="json")
        assert response.status_code == 400, persona
        assert "persona" in response.json()
    assert not Conversation.objects.exists()


def test_list_is_owner_scoped_and_filters_archived(api, alice, alice_conversation, bob_conversation, public_persona):
    archived = services.conversation_start(owner=alice, persona=public_persona)
    services.conversation_archive(conversation=archived)
    active_ids = [c["id"] for c in api.get("/api/conversations/").json()["results"]]
    archived_ids = [c["id"] for c in api.get("/api/conversations/?archived=true").json()["results"]]
    assert active_ids == [alice_conversation.pk]
    assert archived_ids == [archived.pk]


def test_archive_and_unarchive(api, alice_conversation):
    url = f"/api/conversations/{alice_conversation.pk}/archive/"
    assert api.post(url, {}, format="json").json()["archived"] is True
    alice_conversation.refresh_from_db()
    assert alice_conversation.archived
    assert api.post(url, {"archived": False}, format="json").json()["archived"] is False
    alice_conversation.refresh_from_db()
    assert not alice_conversation.archived


def test_delete_conversation(api, alice_conversation):
    assert api.delete(f"/api/conversations/{alice_conversation.pk}/").status_code == 204
    assert not Conversation.objects.filter(pk=alice_conversation.pk).exists()


def test_someone_elses_conversation_is_404_everywhere(api, bob_conversation):
    base = f"/api/conversations/{bob_conversation.pk}/"
    assert api.get(base).status_code == 404
    assert api.get(base + "messages/").status_code == 404
    assert api.post(base + "archive/", {}, format="json").status_code == 404
    refused = api.delete(base)
    assert refused.status_code == 404
    assert refused.json()["code"] == "not_found" and refused.json()["detail"]  # the one refusal shape
    bob_conversation.refresh_from_db()
    assert not bob_conversation.archived


# --- messages -------------------------------------------------------------------------------


def test_messages_page_by_cursor_without_gaps_or_duplicates(api, alice_conversation):
    for i in range(3):
        say(alice_conversation, f"message {i}")
    url = f"/api/conversations/{alice_conversation.pk}/messages/"
    seen, after, pages = [], 0, 0
    while True:
        body = api.get(url, {"after_seq": after, "limit": 2}).json()
        seen += body["results"]
        after = body["next_after_seq"]
        pages += 1
        if not body["has_more"]:
            break
    # greeting + 3 exchanges of 2 = 7 messages, 2 per page.
    assert pages == 4
    assert [m["content"] for m in seen] == [
        "Hello, I am Mira.",
        "message 0",
        "You said: message 0",
        "message 1",
        "You said: message 1",
        "message 2",
        "You said: message 2",
    ]
    assert len({m["id"] for m in seen}) == 7
    assert [m["seq"] for m in seen] == sorted(m["seq"] for m in seen)


def test_messages_after_a_change_include_the_changed_row(api, alice_conversation):
    user_message, _ = say(alice_conversation, "first draft")
    url = f"/api/conversations/{alice_conversation.pk}/messages/"
    cursor = api.get(url).json()["next_after_seq"]
    assert api.get(url, {"after_seq": cursor}).json()["results"] == []
    services.message_delete(message=user_message)
    changed = api.get(url, {"after_seq": cursor}).json()["results"]
    assert {m["id"] for m in changed} >= {user_message.pk}
    assert all(m["deleted"] for m in changed)


@pytest.mark.parametrize("query", [{"after_seq": -1}, {"limit": 0}, {"limit": 501}, {"after_seq": "x"}])
def test_messages_reject_bad_paging(api, alice_conversation, query):
    assert api.get(f"/api/conversations/{alice_conversation.pk}/messages/", query).status_code == 400


def test_messages_endpoint_is_read_only(api, alice_conversation):
    response = api.post(f"/api/conversations/{alice_conversation.pk}/messages/", {"text": "hi"}, format="json")
    assert response.status_code == 405


# --- schema and docs ----------------------------------------------------------------------------


def test_schema_is_valid_openapi_with_our_paths(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # drf-spectacular's bundled OpenAPI 3 JSON Schema; raises when invalid
    for path in (
        "/api/personas/",
        "/api/personas/{persona}/",
        "/api/conversations/",
        "/api/conversations/{id}/",
        "/api/conversations/{id}/archive/",
        "/api/conversations/{id}/messages/",
        "/api/auth/token/",
    ):
        assert path in schema["paths"], path
    params = {p["name"] for p in schema["paths"]["/api/conversations/{id}/messages/"]["get"]["parameters"]}
    assert {"after_seq", "limit"} <= params


def test_docs_page_renders(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_every_api_view_is_described_in_the_schema_without_warnings():
    """A view the generator cannot describe is left out of the schema (and fails `check --deploy`)."""
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")
