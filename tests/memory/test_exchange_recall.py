"""Recall of exchanges and of what two people share: a reply that carries the turn it answers
has that turn as a source, and a question split per person searches one person's answer for the other."""

from __future__ import annotations

from datetime import timedelta

import pytest

from companion.chat.models import Message
from companion.memory.models import Memory
from companion.memory.pipeline import memory_sync_turns
from companion.memory.selectors import memories_recall

pytestmark = pytest.mark.django_db


def _episode(conversation, message):
    return Memory.objects.get(conversation=conversation, layer="episodic", message=message)


def test_a_short_reply_is_recalled_with_the_turn_it_answers(play, user, conversation):
    um, _ = play.say("We adopted a tabby cat from the shelter, her name is Olive.",
                     "Olive! I love that. Send me a picture sometime.")
    reply = conversation.messages.get(seq=um.seq + 1)
    item = _episode(conversation, reply)
    assert set(item.source_messages.values_list("pk", flat=True)) == {um.pk, reply.pk}
    # The user's own turn answers nothing: only itself.
    assert list(_episode(conversation, um).source_messages.values_list("pk", flat=True)) == [um.pk]
    found = memories_recall(user=user, persona=conversation.persona,
                            query="What did Mira ask Alice to send after hearing about the new cat?", k=1)
    assert found[0].memory.pk == item.pk
    assert {m.pk for m in found[0].memory.source_messages.all()} == {um.pk, reply.pk}

    # Deleting the reply drops its item (it does not survive on the turn it quoted).
    Message.objects.filter(pk=reply.pk).update(deleted=True)
    memory_sync_turns(conversation=conversation)
    assert not Memory.objects.filter(message=reply).exists()
    assert not Memory.objects.filter(source_messages=reply).exists()
    assert _episode(conversation, um).text.startswith("Alice: We adopted a tabby cat")


def test_what_two_people_both_love_is_found_for_each(play, user, conversation):
    """"Which sweet …": the persona's turn shares no word with the question; the user's answer
    and the user's (a soft spot, not "love") are kept together as the two most alike statements."""
    start = play.clock - timedelta(days=40)
    play.say("I have a weird soft spot for black liquorice.", "Tell me why.", when=start)
    for n, (text, reply) in enumerate([
        ("My neighbour bakes the best lemon cake.", "Lucky you."),
        ("I walked the dog along the river today.", "Sounds peaceful."),
        ("Work was long, I'm tired.", "Rest tonight."),
        ("I finally fixed the shelf in the hall.", "Handy!"),
    ]):
        play.say(text, reply, when=start + timedelta(days=3 + n))
    _, _ = play.say("We really are a strange pair.",
                    "I have to admit, I adore black liquorice too. Nobody believes me.",
                    when=start + timedelta(days=20))
    explain: dict = {}
    found = memories_recall(user=user, persona=conversation.persona,
                            query="Which sweet do Alice and Mira both love?", k=4, explain=explain)
    said = [r.memory.text for r in found]
    assert any(t.startswith("Alice") and "black liquorice" in t for t in said)
    assert any(t.startswith("Mira") and "adores black liquorice" in t for t in said)
    assert [("liquorice" in t) for t in explain["shared"]] == [True, True]
