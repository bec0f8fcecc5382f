"""Web UI pages through Django's test client: auth, scoping, escaping."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from companion.accounts.models import SignupAttestation
from companion.chat import services
from companion.chat.models import Conversation
from tests.web.factories import PASSWORD, make_persona, say

pytestmark = pytest.mark.django_db


def boot_data(response) -> dict:
    """The JSON the chat page hands chat.js (json_script)."""
    match = re.search(r'<script id="chat-boot" type="application/json">(.*?)</script>', response.content.decode(), re.S)
    assert match, "chat page has no chat-boot data"
    return json.loads(match.group(1))


# --- auth ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["personas", "home"])
def test_anonymous_visitors_see_no_app_pages(client, name):
    response = client.get(reverse(name))
    if name == "home":
        # The landing page, with the way in, and nobody's conversations.
        assert response.status_code == 200
        assert reverse("login") in response.content.decode()
        assert "Conversations</h1>" not in response.content.decode()
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_chat_page_requires_login(client, alice_conversation):
    response = client.get(reverse("chat", args=[alice_conversation.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_and_logout(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert client.get(reverse("personas")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("personas")).status_code == 302


def test_login_with_wrong_password_is_refused(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def _signup(client, **extra):
    data = {"username": "carol", "password1": PASSWORD, "password2": PASSWORD, **extra}
    return client.post(reverse("signup"), data)


def test_signup_without_attestation_creates_no_account(client):
    response = _signup(client)
    assert response.status_code == 200
    assert "18 or older" in response.content.decode()
    assert not get_user_model().objects.filter(username="carol").exists()


def test_signup_with_attestation_records_it_and_logs_in(client):
    before = timezone.now()
    response = _signup(client, attest="on")
    assert response.status_code == 302 and response["Location"] == reverse("personas")
    user = get_user_model().objects.get(username="carol")
    attestation = SignupAttestation.objects.get(user=user)
    assert before - timedelta(seconds=1) <= attestation.attested_at <= timezone.now()
    assert client.get(reverse("personas")).status_code == 200


def test_signup_with_mismatched_passwords_fails(client):
    response = _signup(client, attest="on", password2="something else entirely")
    assert response.status_code == 200
    assert not get_user_model().objects.filter(username="carol").exists()
    assert not SignupAttestation.objects.exists()


# --- gallery and portraits ---------------------------------------------------------


def test_gallery_shows_public_and_own_private_personas_only(alice_client, alice, bob, public_persona):
    make_persona("Alices Secret", owner=alice, private=True)
    make_persona("Bobs Secret", owner=bob, private=True)
    page = alice_client.get(reverse("personas")).content.decode()
    assert "Mira" in page
    assert "Alices Secret" in page
    assert "Bobs Secret" not in page


def test_portrait_is_served_only_to_those_who_may_see_the_persona(alice_client, alice, bob, public_persona):
    own = make_persona("Alices Secret", owner=alice, private=True, portrait=True)
    other = make_persona("Bobs Secret", owner=bob, private=True, portrait=True)
    for persona in (public_persona, own):
        response = alice_client.get(reverse("persona-portrait", args=[persona.slug]))
        assert response.status_code == 200
        assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    assert alice_client.get(reverse("persona-portrait", args=[other.slug])).status_code == 404


def test_persona_without_portrait_has_no_portrait_url(alice_client):
    plain = make_persona("Plain")
    assert alice_client.get(reverse("persona-portrait", args=[plain.slug])).status_code == 404


# --- conversations ---------------------------------------------------------------


def test_start_conversation_from_gallery(alice_client, alice, public_persona):
    response = alice_client.post(reverse("conversation-new"), {"persona": public_persona.slug})
    conversation = Conversation.objects.get(owner=alice)
    assert response.status_code == 302 and response["Location"] == reverse("chat", args=[conversation.pk])
    assert conversation.persona == public_persona
    # The greeting is the first message.
    assert [m.content for m in conversation.messages.all()] == ["Hello, I am Mira."]


def test_cannot_start_conversation_with_someone_elses_private_persona(alice_client, bob):
    hidden = make_persona("Bobs Secret", owner=bob, private=True)
    response = alice_client.post(reverse("conversation-new"), {"persona": hidden.slug})
    assert response.status_code == 404
    assert not Conversation.objects.exists()


def test_start_conversation_needs_post(alice_client, public_persona):
    assert alice_client.get(reverse("conversation-new")).status_code == 405


def test_conversation_list_is_owner_scoped(alice_client, alice_conversation, bob_conversation):
    page = alice_client.get(reverse("home")).content.decode()
    assert f'data-conversation-id="{alice_conversation.pk}"' in page
    assert f'data-conversation-id="{bob_conversation.pk}"' not in page


def test_archive_and_unarchive(alice_client, alice_conversation):
    alice_client.post(reverse("conversation-archive", args=[alice_conversation.pk]), {"archived": "1"})
    alice_conversation.refresh_from_db()
    assert alice_conversation.archived
    assert f'data-conversation-id="{alice_conversation.pk}"' not in alice_client.get(reverse("home")).content.decode()
    archived_page = alice_client.get(reverse("home") + "?archived=1").content.decode()
    assert f'data-conversation-id="{alice_conversation.pk}"' in archived_page
    alice_client.post(reverse("conversation-archive", args=[alice_conversation.pk]), {"archived": "0"})
    alice_conversation.refresh_from_db()
    assert not alice_conversation.archived


def test_cannot_archive_or_delete_someone_elses_conversation(alice_client, bob_conversation):
    assert alice_client.post(reverse("conversation-archive", args=[bob_conversation.pk])).status_code == 404
    assert alice_client.post(reverse("conversation-delete", args=[bob_conversation.pk])).status_code == 404
    bob_conversation.refresh_from_db()
    assert not bob_conversation.archived


def test_delete_own_conversation(alice_client, alice_conversation):
    response = alice_client.post(reverse("conversation-delete", args=[alice_conversation.pk]))
    assert response.status_code == 302
    assert not Conversation.objects.filter(pk=alice_conversation.pk).exists()


# --- chat page --------------------------------------------------------------------


def test_chat_page_for_own_conversation_carries_history(alice_client, alice_conversation):
    say(alice_conversation, "How is the sea today?")
    response = alice_client.get(reverse("chat", args=[alice_conversation.pk]))
    assert response.status_code == 200
    boot = boot_data(response)
    assert boot["conversation_id"] == alice_conversation.pk
    assert [(m["role"], m["content"]) for m in boot["messages"]] == [
        ("persona", "Hello, I am Mira."),
        ("user", "How is the sea today?"),
        ("persona", "You said: How is the sea today?"),
    ]
    alice_conversation.refresh_from_db()
    assert boot["last_seq"] == alice_conversation.last_seq


def test_chat_page_hides_deleted_messages(alice_client, alice_conversation):
    user_message, _ = say(alice_conversation, "forget this")
    services.message_delete(message=user_message)
    boot = boot_data(alice_client.get(reverse("chat", args=[alice_conversation.pk])))
    assert [m["content"] for m in boot["messages"]] == ["Hello, I am Mira."]


def test_chat_page_of_someone_elses_conversation_is_404(alice_client, bob_conversation):
    assert alice_client.get(reverse("chat", args=[bob_conversation.pk])).status_code == 404


def test_chat_page_includes_feature_templates_when_present(alice_client, alice_conversation, settings, tmp_path):
    (tmp_path / "chat").mkdir()
    (tmp_path / "chat" / "_evolve.html").write_text('<div id="evolve-extra">evolve</div>')
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    page = alice_client.get(reverse("chat", args=[alice_conversation.pk])).content.decode()
    assert '<div id="evolve-extra">evolve</div>' in page


# --- escaping -------------------------------------------------------------------------

EVIL = "<script>window.__pwned=1</script>"


def test_persona_name_is_escaped_in_gallery_and_chat(alice_client, alice):
    evil = make_persona(f"Eve {EVIL}", tagline=EVIL, greeting=f"hi {EVIL}")
    gallery = alice_client.get(reverse("personas")).content.decode()
    assert EVIL not in gallery
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in gallery
    conversation = services.conversation_start(owner=alice, persona=evil)
    page = alice_client.get(reverse("chat", args=[conversation.pk])).content.decode()
    assert EVIL not in page
    assert boot_data_from_text(page)["persona_name"] == f"Eve {EVIL}"


def test_message_text_cannot_break_out_of_the_boot_json(alice_client, alice_conversation):
    say(alice_conversation, f"</script>{EVIL}", reply=EVIL)
    page = alice_client.get(reverse("chat", args=[alice_conversation.pk])).content.decode()
    assert EVIL not in page
    assert "</script><script>" not in page
    contents = [m["content"] for m in boot_data_from_text(page)["messages"]]
    assert f"</script>{EVIL}" in contents and EVIL in contents


def boot_data_from_text(page: str) -> dict:
    match = re.search(r'<script id="chat-boot" type="application/json">(.*?)</script>', page, re.S)
    assert match
    return json.loads(match.group(1))
