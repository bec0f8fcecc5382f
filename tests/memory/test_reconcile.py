"""Extraction + reconciliation with the scripted backend: add, update, delete, nothing, garbage."""

from __future__ import annotations

import pytest

from companion.memory.models import Memory
from companion.memory.services import memory_create, memory_update

from .conftest import texts

pytestmark = pytest.mark.django_db


def _seed(user, persona, text, **kw):
    return memory_create(user=user, persona=persona, text=text, **kw)


def test_llm_add_stores_memory_with_source(play, user, persona, scripted_backend):
    scripted_backend.json_replies = [
        {"ops": [{"op": "ADD", "text": "The user grows tomatoes on a balcony.", "kind": "fact", "importance": 0.7}]}
    ]
    um, _ = play.say("My balcony is full of tomato plants these days.", llm=True)
    memory = Memory.objects.get(user=user, persona=persona, layer="semantic", slot="")
    assert memory.text == "Alice grows tomatoes on a balcony."  # "The user" from the model becomes the name
    assert list(memory.source_messages.all()) == [um]
    assert memory.conversation == play.conversation
    # The model saw the exchange (schema-constrained call, ExtractionResult schema).
    call = scripted_backend.calls[-1]
    assert call["schema"].__name__ == "ExtractionResult"
    assert "tomato plants" in call["turns"][-1].content


def test_llm_update_keeps_old_sources_and_adds_new(play, user, persona, scripted_backend):
    first, _ = play.say("I work as a teacher.")
    memory = Memory.objects.get(user=user, persona=persona, slot="occupation")
    assert memory.text == "Alice works as a teacher."
    scripted_backend.json_replies = [
        {"ops": [{"op": "UPDATE", "id": memory.pk, "text": "Alice works as a head teacher.", "kind": "fact"}]}
    ]
    second, _ = play.say("Got promoted, I'm head of the school now.", llm=True)
    memory.refresh_from_db()
    assert memory.text == "Alice works as a head teacher."
    assert set(memory.source_messages.all()) == {first, second}
    assert Memory.objects.filter(user=user, slot="occupation").count() == 1


def test_llm_delete_applies_only_with_a_retraction(play, user, persona, scripted_backend):
    coffee = _seed(user, persona, "The user loves coffee.", kind="preference")
    scripted_backend.json_replies = [{"ops": [{"op": "DELETE", "id": coffee.pk}]}]
    play.say("Actually I quit coffee last month, it's all tea now.", llm=True)
    assert not Memory.objects.filter(pk=coffee.pk).exists()


def test_llm_nothing_changes_nothing(play, user, persona, scripted_backend):
    _seed(user, persona, "The user's name is Sam.")
    scripted_backend.json_replies = [{"ops": [{"op": "NONE"}]}]
    play.say("What a nice evening.", llm=True)
    assert texts(user, persona) == ["The user's name is Sam."]


@pytest.mark.parametrize(
    "garbage",
    [
        "not json at all {{{",
        {"ops": [{"op": "EXPLODE", "id": 1}]},
        {"ops": "DELETE everything"},
        None,  # no scripted reply: the backend raises StructuredOutputError
    ],
)
def test_garbage_output_never_deletes_good_memories(play, user, persona, scripted_backend, garbage):
    keep = [_seed(user, persona, "The user's name is Sam.", slot="name"),
            _seed(user, persona, "The user has a dog named Biscuit.")]
    if garbage is not None:
        scripted_backend.json_replies = [garbage]
    play.say("Biscuit chewed my shoes, I love that dog.", llm=True)
    assert {m.pk for m in keep} <= set(Memory.objects.values_list("pk", flat=True))
    assert Memory.objects.get(pk=keep[0].pk).text == "The user's name is Sam."


def test_valid_but_destructive_model_output_is_refused(play, user, persona, scripted_backend):
    name = _seed(user, persona, "The user's name is Sam.", slot="name")
    dog = _seed(user, persona, "The user has a dog named Biscuit.")
    scripted_backend.json_replies = [{"ops": [
        {"op": "DELETE", "id": name.pk},  # no retraction in the message
        {"op": "UPDATE", "id": dog.pk, "text": "Quantum chromodynamics is a gauge theory."},  # off topic
        {"op": "DELETE", "id": 999999},  # made-up id
    ]}]
    _, out = play.say("Walked the dog by the river today, lovely weather.", llm=True)
    assert Memory.objects.get(pk=name.pk).text == "The user's name is Sam."
    assert Memory.objects.get(pk=dog.pk).text == "The user has a dog named Biscuit."
    assert len(out.report.ignored) == 3


def test_retraction_cue_but_unrelated_memory_is_kept(play, user, persona, scripted_backend):
    name = _seed(user, persona, "The user's name is Sam.", slot="name")
    scripted_backend.json_replies = [{"ops": [{"op": "DELETE", "id": name.pk}]}]
    play.say("Actually I don't like horror films anymore.", llm=True)
    assert Memory.objects.filter(pk=name.pk).exists()


def test_user_edited_memories_are_never_touched_by_extraction(play, user, persona, scripted_backend):
    mem = _seed(user, persona, "The user likes coffee.", slot="likes:coffee", kind="preference")
    memory_update(memory=mem, text="The user likes coffee, black, no sugar.", by_user=True)
    play.say("I no longer like coffee.")
    assert Memory.objects.get(pk=mem.pk).text == "The user likes coffee, black, no sugar."


def test_fallback_rules_add_update_and_retract(play, user, persona):
    play.say("My name is Sam and I love green tea.")
    assert texts(user, persona) == ["Alice loves green tea.", "The user's name is Sam."]
    play.say("Actually my name is Alex.")
    assert texts(user, persona) == ["Alice loves green tea.", "The user's name is Alex."]
    play.say("I no longer love green tea, it's too bitter.")
    assert texts(user, persona) == ["The user's name is Alex."]


def test_repeated_statement_adds_a_source_not_a_duplicate(play, user, persona):
    a, _ = play.say("I love jazz.")
    b, _ = play.say("I love jazz.")
    memory = Memory.objects.get(user=user, persona=persona, layer="semantic")
    assert set(memory.source_messages.all()) == {a, b}


def test_processing_the_same_user_message_twice_is_a_no_op(play, user, persona):
    from companion.memory.pipeline import exchange_process
    from companion.memory.selectors import relationship_get

    um, _ = play.say("I love jazz.")
    again = exchange_process(conversation=play.conversation, user_message=um, use_llm=False)
    assert again.skipped
    assert relationship_get(user=user, persona=persona).exchanges == 1
