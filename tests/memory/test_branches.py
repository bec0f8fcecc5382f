"""Memory and branches: copied turns are not learnt again; the branch's new turns are its own; the
branch recalls what was said before the branch point (memory is per user and persona)."""

from __future__ import annotations

import pytest
from django.test import Client

from companion.chat.models import Message
from companion.chat.services import conversation_branch, conversation_delete
from companion.memory.models import Memory
from companion.memory.pipeline import memory_sync_turns
from companion.memory.prompt_sections import memories_text
from companion.memory.sessions import sessions_due
from tests.memory.conftest import Player

pytestmark = pytest.mark.django_db


@pytest.fixture
def branched(conversation, play, user):
    """Ada tells Mira about sailing; the branch starts after Mira's answer; the parent goes on about a dog."""
    said, _ = play.say("My name is Ada and I love sailing.", "Sailing! Where do you go?")
    point = conversation.messages.filter(seq__gt=said.seq, role="persona").first()
    play.say("I adopted a dog called Rex.", "Rex is a good name.")
    branch = conversation_branch(owner=user, message=point)
    return conversation, branch, point


def _recall(user, conversation, query: str) -> list[str]:
    client = Client()
    client.force_login(user)
    response = client.get(f"/api/memory/conversations/{conversation.pk}/recall/", {"q": query})
    assert response.status_code == 200
    return [r["memory"]["text"] for r in response.json()["results"]]


def test_copied_turns_are_not_learnt_again(branched, user, persona):
    _, branch, _ = branched
    before = Memory.objects.count()
    Player(branch).say("Let's talk about the sea instead.", "The sea it is.", process=False)
    outcome = memory_sync_turns(conversation=branch)

    new = Memory.objects.filter(pk__in=[m.pk for m in outcome.indexed])
    assert Memory.objects.count() == before + len(outcome.indexed) > before
    assert set(new.values_list("conversation", flat=True)) == {branch.pk}
    learnt_from = set(new.values_list("message__content", flat=True))
    assert learnt_from == {"Let's talk about the sea instead.", "The sea it is."}
    assert not Memory.objects.filter(message__conversation=branch, message__copied_from__isnull=False).exists()
    assert sessions_due(conversation=branch) == []  # the copies are in the parent's sessions


def test_the_branch_recalls_the_parents_facts_from_before_the_branch_point(branched, user):
    conversation, branch, _ = branched
    found = _recall(user, branch, "sailing")
    assert any("sailing" in text for text in found), found
    # Same pair, same memory: what the parent says after the point is the persona's memory too.
    assert _recall(user, branch, "dog Rex") == _recall(user, conversation, "dog Rex")


def test_the_branch_prompt_leaves_out_what_its_copied_history_already_shows(branched, user, persona):
    _, branch, _ = branched
    text, _ = memories_text(user=user, persona=persona, user_name="Ada", query="sailing", conversation=branch)
    assert "sailing" not in text.lower()  # the copied turn is on screen already
    assert "Rex" in memories_text(user=user, persona=persona, user_name="Ada", query="dog Rex",
                                  conversation=branch)[0]


def test_new_turns_in_the_branch_are_learnt_there(branched, user, persona):
    _, branch, _ = branched
    _, outcome = Player(branch).say("I live in Porto.", "Porto has fine bridges.")
    assert [m.text for m in outcome.report.added] == ["Alice lives in Porto."]
    assert {m.conversation_id for m in [*outcome.report.added, *outcome.indexed]} == {branch.pk}
    # The turn answers the copied question: the branch's history is its context.
    assert "Where do you go?" in next(m.text for m in outcome.indexed if m.layer == Memory.Layer.EPISODIC)
    assert any("Porto" in text for text in _recall(user, branch, "where does Ada live"))


def test_once_the_parent_is_deleted_the_branch_learns_its_copies_as_its_own(branched, user):
    conversation, branch, _ = branched
    conversation_delete(conversation=conversation)
    assert not any("sailing" in text for text in _recall(user, branch, "sailing"))  # went with the parent
    memory_sync_turns(conversation=branch)
    copies = Message.objects.filter(conversation=branch, role__in=["user", "persona"])
    assert Memory.objects.filter(layer="episodic", message__in=copies).count() == copies.count()
    assert any("sailing" in text for text in _recall(user, branch, "sailing"))
