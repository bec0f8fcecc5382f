"""Group scenes (companion.chat.scene): members, who answers (a table per turn order), mute, witnesses,
and the prompt each member gets (its own card; only what it witnessed; the others' lines named)."""

from __future__ import annotations

import pytest

from companion.chat import scene, services
from companion.chat.models import ConversationMember, Message, TurnOrder
from companion.chat.prompt import prompt_build
from companion.chat.scene import SceneError
from companion.llm.scripted import ScriptedBackend
from personas.models import Persona

pytestmark = pytest.mark.django_db


@pytest.fixture
def jonas(db):
    return Persona.objects.create(name="Jonas", description="{{char}} is a sailor who mends nets and boats "
                                  "in the harbour.", personality="gruff, loyal", greeting="Ahoy.")


@pytest.fixture
def ines(db):
    return Persona.objects.create(name="Ines", description="{{char}} runs the village bakery and bakes bread, "
                                  "cakes and pastries.", personality="cheerful", greeting="Hello!")


@pytest.fixture
def trio(conversation, jonas, ines):
    scene.member_add(conversation=conversation, persona=jonas)
    scene.member_add(conversation=conversation, persona=ines)
    conversation.refresh_from_db()
    return conversation


def _answer(conversation, text: str, *, persona_id: int | None = None, content: str = "Right.") -> Message:
    """The user says ``text``; the chosen persona's reply completes with ``content``."""
    _, _, reply = services.exchange_begin(conversation=conversation, text=text, client_id="", persona_id=persona_id)
    services.reply_finish(message_id=reply.pk, content=content, status=Message.Status.COMPLETE)
    reply.refresh_from_db()
    return reply


def test_a_conversation_without_members_is_its_persona_alone(conversation, persona):
    assert [m.persona for m in scene.members_of(conversation)] == [persona]
    assert not scene.is_group(conversation)
    reply = _answer(conversation, "Hello")
    assert reply.persona_id == persona.pk and reply.witnesses == [persona.pk]


def test_members_join_in_order_the_first_is_the_conversations_persona(trio, persona, jonas, ines):
    members = scene.members_of(trio)
    assert [(m.persona.name, m.position) for m in members] == [("Mira", 0), ("Jonas", 1), ("Ines", 2)]
    assert scene.is_group(trio)
    assert members[0].joined_at_seq == 0 and members[2].joined_at_seq == trio.last_seq


def test_at_most_five_and_the_own_persona_cannot_leave(trio, persona, jonas):
    for name in ("A", "B"):
        scene.member_add(conversation=trio, persona=Persona.objects.create(name=name))
    with pytest.raises(SceneError) as refused:
        scene.member_add(conversation=trio, persona=Persona.objects.create(name="Sixth"))
    assert refused.value.code == "too_many"
    with pytest.raises(SceneError) as refused:
        scene.member_remove(conversation=trio, persona_id=persona.pk)
    assert refused.value.code == "not_removable"
    scene.member_remove(conversation=trio, persona_id=jonas.pk)
    assert jonas.pk not in [m.persona_id for m in scene.members_of(trio)]


# --- who answers ------------------------------------------------------------------------------

NATURAL = [
    ("Jonas, how is the boat?", "Jonas"),  # addressed by name
    ("hey INES and jonas, good morning", "Ines"),  # the name said first
    ("Could I get some fresh bread and cakes?", "Ines"),  # her card: bakery, bread, cakes
    ("The nets are torn and the boats need mending", "Jonas"),  # his card: nets, boats, mending
    ("Mira, tell me about the lighthouse.", "Mira"),
]


@pytest.mark.parametrize(("text", "expected"), NATURAL)
def test_natural_order_picks_the_addressed_or_the_best_fitting_persona(trio, text, expected):
    assert scene.speaker_choose(trio, text=text).name == expected


def test_natural_order_with_nothing_to_go_on_passes_the_word_on(trio):
    # Mira spoke last (her greeting): a message that fits nobody goes to the next in the list, not to her again
    assert scene.speaker_choose(trio, text="ok").name == "Jonas"


def test_list_order_takes_turns_and_skips_the_muted(trio, jonas, ines):
    scene.turn_order_set(conversation=trio, turn_order=TurnOrder.LIST)
    spoke = [_answer(trio, "Go on, Mira").persona.name]  # names are ignored in list order
    spoke.append(_answer(trio, "and?").persona.name)
    scene.member_mute(conversation=trio, persona_id=trio.persona_id, minutes=30)
    spoke.append(_answer(trio, "and?").persona.name)
    spoke.append(_answer(trio, "and?").persona.name)
    assert spoke == ["Jonas", "Ines", "Jonas", "Ines"]


def test_manual_order_answers_who_is_named_in_the_frame(trio, ines):
    scene.turn_order_set(conversation=trio, turn_order=TurnOrder.MANUAL)
    assert _answer(trio, "Jonas, what do you think?").persona.name == "Mira"  # no name given: the first member
    assert _answer(trio, "And you?", persona_id=ines.pk).persona.name == "Ines"


def test_a_muted_persona_does_not_answer_or_witness(trio, jonas, ines):
    scene.member_mute(conversation=trio, persona_id=jonas.pk, minutes=10)
    reply = _answer(trio, "Jonas, are you there?")
    assert reply.persona.name != "Jonas"
    assert jonas.pk not in reply.witnesses
    with pytest.raises(SceneError) as refused:
        services.exchange_begin(conversation=trio, text="Jonas?", client_id="x", persona_id=jonas.pk)
    assert refused.value.code == "muted"
    assert not trio.messages.filter(client_id="x").exists()  # refused before anything was stored
    scene.member_mute(conversation=trio, persona_id=jonas.pk, minutes=0)
    assert _answer(trio, "Jonas?", persona_id=jonas.pk).persona.name == "Jonas"


def test_everyone_muted_is_refused(trio, persona, jonas, ines):
    for p in (persona, jonas, ines):
        scene.member_mute(conversation=trio, persona_id=p.pk, minutes=5)
    with pytest.raises(SceneError) as refused:
        services.exchange_begin(conversation=trio, text="Anyone?", client_id="")
    assert refused.value.code == "no_one_present"


def test_naming_someone_outside_the_scene_is_refused(trio):
    stranger = Persona.objects.create(name="Stranger")
    with pytest.raises(SceneError) as refused:
        services.exchange_begin(conversation=trio, text="Hi", client_id="", persona_id=stranger.pk)
    assert refused.value.code == "not_found"


def test_a_regenerated_reply_stays_its_personas(trio, ines):
    reply = _answer(trio, "Bread?", persona_id=ines.pk)
    again, _ = services.reply_begin_regenerate(message=reply)
    assert again.persona_id == ines.pk and again.parent_id == reply.pk


# --- what each member sees ------------------------------------------------------------------


def test_a_late_joiner_gets_its_own_card_and_only_the_turns_since_it_came(conversation, persona, jonas, ines):
    scene.member_add(conversation=conversation, persona=jonas)
    _answer(conversation, "My secret: the key is under the blue stone.", persona_id=persona.pk, content="Noted.")
    scene.member_add(conversation=conversation, persona=ines)
    _answer(conversation, "Jonas, the weather is turning.", persona_id=jonas.pk, content="Storm's coming.")
    backend = ScriptedBackend()
    late = prompt_build(conversation=conversation, backend=backend, budget_tokens=4000, persona=ines)
    early = prompt_build(conversation=conversation, backend=backend, budget_tokens=4000, persona=jonas)
    late_text = "\n".join(t.content for t in late.turns)
    early_text = "\n".join(t.content for t in early.turns)
    assert "runs the village bakery" in late.turns[0].content and "sailor" not in late.turns[0].content
    assert "blue stone" not in late_text and "Evening" not in late_text
    assert "Alice: Jonas, the weather is turning." in late_text and "Jonas: Storm's coming." in late_text
    assert "blue stone" in early_text and "Mira: Noted." in early_text
    # Jonas's own line reaches him as his (assistant) turn, unnamed
    assert any(t.role == "assistant" and t.content == "Storm's coming." for t in early.turns)
    assert "group scene" in late.turns[0].content and "Reply only as Ines" in late.turns[0].content


def test_a_one_persona_prompt_is_unchanged_by_groups(conversation):
    _answer(conversation, "Hello there", content="Evening to you.")
    build = prompt_build(conversation=conversation, backend=ScriptedBackend(), budget_tokens=4000)
    assert [t.content for t in build.turns if t.role != "system"][-2:] == ["Hello there", "Evening to you."]
    assert "group scene" not in build.turns[0].content


def test_a_branch_keeps_the_scene(trio, user, jonas):
    reply = _answer(trio, "Jonas, hi", content="Aye.")
    branch = services.conversation_branch(owner=user, message=reply)
    assert [m.persona_id for m in scene.members_of(branch)] == [m.persona_id for m in scene.members_of(trio)]
    copy = branch.messages.get(seq=branch.last_seq)
    assert copy.persona_id == jonas.pk and copy.witnesses == reply.witnesses
    assert ConversationMember.objects.filter(conversation=branch).count() == 3


def test_a_member_who_left_is_still_named_in_the_history(conversation, persona, jonas):
    scene.member_add(conversation=conversation, persona=jonas)
    _answer(conversation, "Jonas, the nets?", persona_id=jonas.pk, content="Mended by dawn.")
    scene.member_remove(conversation=conversation, persona_id=jonas.pk)
    build = prompt_build(conversation=conversation, backend=ScriptedBackend(), budget_tokens=4000)
    text = "\n".join(t.content for t in build.turns)
    assert "Jonas: Mended by dawn." in text
    assert "group scene" not in build.turns[0].content  # nobody else is here now
