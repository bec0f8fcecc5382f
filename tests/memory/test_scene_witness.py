"""Witness-scoped memory in a group scene: each member learns only the turns it was present for (joined
before, not muted), its relationship counts only the exchanges it heard, and its prompt's memory section
and the rolling summary never bring it what it did not witness."""

from __future__ import annotations

import pytest

from companion.chat import scene, services
from companion.chat.models import Message
from companion.memory.models import ConversationSummary, Memory, RelationshipState
from companion.memory.pipeline import exchange_process_ids
from companion.memory.prompt_sections import sections
from personas.models import Persona

pytestmark = pytest.mark.django_db


@pytest.fixture
def jonas(db):
    return Persona.objects.create(name="Jonas", description="{{char}} is a sailor.")


@pytest.fixture
def ines(db):
    return Persona.objects.create(name="Ines", description="{{char}} runs the bakery.")


def _exchange(conversation, text: str, persona, reply: str = "I see.") -> Message:
    user_message, _, opened = services.exchange_begin(conversation=conversation, text=text, client_id="",
                                                      persona_id=persona.pk)
    services.reply_finish(message_id=opened.pk, content=reply, status=Message.Status.COMPLETE)
    exchange_process_ids(conversation_id=conversation.pk, user_message_id=user_message.pk,
                         reply_message_id=opened.pk, use_llm=False)
    return user_message


def _known(user, persona) -> str:
    return " ".join(Memory.objects.filter(user=user, persona=persona).values_list("text", flat=True))


def _exchanges(user, persona) -> int:
    state = RelationshipState.objects.filter(user=user, persona=persona).first()
    return state.exchanges if state else 0


def test_each_member_remembers_only_what_it_witnessed(conversation, user, persona, jonas, ines):
    scene.member_add(conversation=conversation, persona=jonas)
    _exchange(conversation, "I love sailing on the fjord every summer.", persona)
    scene.member_add(conversation=conversation, persona=ines)
    _exchange(conversation, "I adopted a dog called Rex last week.", ines, "Rex! What a name.")
    scene.member_mute(conversation=conversation, persona_id=jonas.pk, minutes=30)
    _exchange(conversation, "I work as a nurse at the harbour clinic.", persona)

    mira, sailor, baker = _known(user, persona), _known(user, jonas), _known(user, ines)
    assert "sailing" in mira and "Rex" in mira and "nurse" in mira
    assert "sailing" in sailor and "Rex" in sailor and "nurse" not in sailor  # muted: did not hear it
    assert "sailing" not in baker and "Rex" in baker and "nurse" in baker  # came after the sailing talk
    # Ines's reply is hers in everyone's memory
    assert Memory.objects.filter(user=user, persona=jonas, speaker="Ines", text__contains="What a name").exists()
    # Relationship per (user, persona): only the exchanges it heard
    assert (_exchanges(user, persona), _exchanges(user, jonas), _exchanges(user, ines)) == (3, 2, 2)


def test_the_late_joiners_prompt_gets_no_memory_or_summary_from_before(conversation, user, persona, ines):
    _exchange(conversation, "My secret: the key is under the blue stone.", persona)
    scene.member_add(conversation=conversation, persona=ines)
    _exchange(conversation, "Ines, where is the bakery?", ines)
    first, last = conversation.messages.order_by("seq").first(), conversation.messages.order_by("-seq").first()
    ConversationSummary.objects.create(conversation=conversation, seq_from=first.seq, seq_to=last.seq,
                                       text="Alice said the key is under the blue stone.")
    conversation.refresh_from_db()
    hers = {s.name: s.text for s in sections(conversation=scene.persona_view(conversation, ines),
                                             query_text="where is the key? blue stone")}
    mine = {s.name: s.text for s in sections(conversation=conversation, query_text="where is the key? blue stone")}
    assert "blue stone" not in " ".join(hers.values())
    assert "blue stone" in mine.get("summary", "")
