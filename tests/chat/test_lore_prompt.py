"""Lorebooks in the prompt: entries go where they belong, and the prompt-debug view says why they fired."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from companion.chat.prompt import prompt_build
from companion.chat.services import message_create
from companion.llm.scripted import ScriptedBackend
from personas.models import LoreEntry, LorePosition

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _only_our_providers(monkeypatch):
    monkeypatch.setattr("companion.chat.prompt._providers", [])


class WordCounter(ScriptedBackend):
    def count_tokens(self, text: str) -> int:
        return len(text.split())


def say(conversation, role, text):
    return message_create(conversation=conversation, role=role, kind="text", content=text, status="complete")


@pytest.fixture
def lore(persona):
    def add(keys, content, **fields):
        return LoreEntry.objects.create(persona=persona, keys=keys, content=content, **fields)

    return add


def build(conversation, budget=2000):
    return prompt_build(conversation=conversation, backend=WordCounter(), budget_tokens=budget)


def test_entries_go_before_and_after_the_character_and_at_depth(conversation, lore):
    lore(["Gannet Point"], "{{char}} grew up on Gannet Point.", position=LorePosition.BEFORE_CHAR)
    lore(["Gannet Point"], "Gannet Point's lamp is dark.", position=LorePosition.AFTER_CHAR)
    lore(["tide"], "The tide is turning.", position=LorePosition.AT_DEPTH, depth=1)
    lore(["dragon"], "Dragons sleep in the mountains.")
    say(conversation, "user", "Tell me about gannet point.")
    say(conversation, "persona", "It is a cold place.")
    say(conversation, "user", "And the tide?")
    turns = build(conversation).turns
    system = turns[0].content
    assert "Mira grew up on Gannet Point." in system  # macros resolved
    assert system.index("Mira grew up on Gannet Point.") < system.index("lighthouse keeper")
    assert system.index("lighthouse keeper") < system.index("Gannet Point's lamp is dark.")
    assert "Dragons" not in system
    # depth 1: a system turn just before the newest message
    assert [t.role for t in turns[-3:]] == ["system", "user", "system"]
    assert turns[-3].content == "The tide is turning." and turns[-2].content == "And the tide?"


def test_the_debug_record_says_which_key_in_which_message(conversation, lore):
    gannet = lore(["Gannet Point", "the point"], "Gannet lore.", name="Gannet")
    lore(["fog"], "Fog lore.", constant=True, name="Fog")
    asked = say(conversation, "user", "Take me to the point.")
    record = build(conversation).compact()["lore"]
    by_name = {r["name"]: r for r in record}
    assert by_name["Gannet"]["why"] == {"key": "the point", "message_id": asked.pk}
    assert by_name["Gannet"]["included"] and by_name["Gannet"]["position"] == "before_char"
    assert by_name["Fog"]["why"] == {"constant": True}
    gannet.enabled = False
    gannet.save()
    assert [r["name"] for r in build(conversation).compact()["lore"]] == ["Fog"]


def test_only_scan_depth_messages_are_scanned(conversation, lore, settings):
    settings.CHAT_LORE_SCAN_DEPTH = 2
    lore(["Gannet"], "Gannet lore.")
    say(conversation, "user", "Gannet Point, please.")
    say(conversation, "persona", "Off we go.")
    assert "Gannet lore." in build(conversation).turns[0].content
    say(conversation, "user", "Are we there yet?")
    assert "Gannet lore." not in build(conversation).turns[0].content


def test_the_lore_budget_keeps_higher_priority_and_the_record_says_what_was_dropped(conversation, lore, settings):
    settings.CHAT_LORE_TOKEN_BUDGET = 4
    lore(["storm"], "Low priority storm lore.", priority=1, name="low")
    lore(["storm"], "High storm lore.", priority=10, name="high")
    say(conversation, "user", "A storm is coming.")
    built = build(conversation)
    assert "High storm lore." in built.turns[0].content and "Low priority" not in built.turns[0].content
    dropped = {r["name"]: r.get("dropped") for r in built.compact()["lore"]}
    assert dropped == {"high": None, "low": "budget"}


def test_a_prompt_over_budget_drops_lore_sections_and_says_so(conversation, lore):
    lore(["storm"], "Storm lore " * 50, position=LorePosition.AFTER_CHAR, name="long")
    say(conversation, "user", "A storm is coming.")
    card_only = build(conversation, budget=5000).system_tokens - 100  # roughly the card, without the lore
    built = build(conversation, budget=card_only)
    assert "Storm lore" not in built.turns[0].content
    assert built.compact()["lore"][0]["dropped"] == "prompt budget"


def test_prompt_debug_view_shows_which_entries_fired_and_why(persona, lore, django_user_model, scripted_backend):
    from companion.chat.services import conversation_start

    staff = django_user_model.objects.create_user("staffer", password="pw-staff-123", is_staff=True)
    conversation = conversation_start(owner=staff, persona=persona)
    lore(["lighthouse"], "The lighthouse has 212 steps.", name="Steps")
    asked = say(conversation, "user", "How tall is the lighthouse?")
    reply = say(conversation, "persona", "Tall.")
    reply.extra = {"prompt": build(conversation).compact()}  # what replies.py stores with each reply
    reply.save()
    client = APIClient()
    client.force_authenticate(staff)
    body = client.get(f"/api/memory/debug/prompt/{reply.pk}/").json()
    fired = body["prompt"]["lore"]
    assert fired == [{"entry": "persona#0", "name": "Steps", "book": "persona", "position": "before_char",
                      "tokens": 5, "included": True, "why": {"key": "lighthouse", "message_id": asked.pk}}]
