"""Rolling summaries, and what memory adds to the reply prompt."""

from __future__ import annotations

import pytest

from companion.chat.prompt import prompt_build
from companion.memory.models import ConversationSummary
from companion.memory.summaries import messages_to_fold, summary_update

pytestmark = pytest.mark.django_db


def _long_chat(play, n=30):
    play.say("My name is Sam and I have a dog named Biscuit.", "Nice to meet you, Sam.", process=False)
    for i in range(n):
        play.say(f"Turn {i}: the weather is grey and I walked along the harbour wall for a while.",
                 "The harbour is lovely in grey weather, the boats look like ghosts.", process=False)


def test_nothing_to_fold_while_history_fits(play, conversation):
    play.say("Hi", process=False)
    assert messages_to_fold(conversation=conversation, budget_tokens=1000) == []
    assert summary_update(conversation=conversation, use_llm=False, budget_tokens=1000) is None


def test_extractive_summary_covers_older_turns_and_rolls(play, conversation, scripted_backend):
    _long_chat(play)
    first = summary_update(conversation=conversation, use_llm=True, budget_tokens=300)  # no JSON scripted
    assert first is not None and first.method == "extractive"
    assert "Biscuit" in first.text  # the informative first turn survives
    assert first.seq_from == 1 and first.seq_to < conversation.messages.order_by("-seq").first().seq
    assert len(first.text) <= 1500
    # Nothing more to fold until the history grows again.
    assert summary_update(conversation=conversation, use_llm=False, budget_tokens=300) is None
    _long_chat(play, n=10)
    second = summary_update(conversation=conversation, use_llm=False, budget_tokens=300)
    assert second.seq_from == first.seq_from and second.seq_to > first.seq_to
    assert "Biscuit" in second.text


def test_llm_summary_is_used_when_valid(play, conversation, scripted_backend):
    _long_chat(play)
    scripted_backend.json_replies = [{"text": "Sam, who has a dog called Biscuit, walks the harbour daily."}]
    summary = summary_update(conversation=conversation, use_llm=True, budget_tokens=300)
    assert summary.method == "llm"
    assert summary.text == "Sam, who has a dog called Biscuit, walks the harbour daily."
    assert scripted_backend.calls[-1]["schema"].__name__ == "SummarySchema"


def test_prompt_contains_relationship_memories_and_summary_in_order(play, conversation, scripted_backend):
    play.say("My name is Sam and I have a dog named Biscuit.")
    play.say("Please don't call me Sammy.")
    _long_chat(play, n=20)
    summary_update(conversation=conversation, use_llm=False, budget_tokens=300)
    play.say("What do you remember about my pet?", process=False)
    build = prompt_build(conversation=conversation, backend=scripted_backend, budget_tokens=4000)
    system = build.turns[0].content
    names = [s.name for s in build.sections if s.included]
    assert names[:4] == ["persona_card", "relationship", "memories", "summary"]
    assert "Your relationship with Alice: stranger." in system
    assert "First conversation" in system  # recent milestones with dates
    assert "Alice does not want to be called Sammy." in system  # boundaries always present
    line = next(ln for ln in system.splitlines() if "Biscuit" in ln and ln.startswith("- ("))
    assert system.index("Boundaries") < system.index(line)
    assert line.startswith("- (20")  # dated
    assert "Earlier in this conversation (summary up to message #" in system
    from companion.memory.models import Memory

    shown = line.split(") ", 1)[1]
    assert Memory.objects.get(text=shown).times_recalled == 1


def test_prompt_without_any_memory_still_builds(conversation, scripted_backend):
    from companion.chat.services import message_create

    message_create(conversation=conversation, role="user", kind="text", content="hello", status="complete")
    build = prompt_build(conversation=conversation, backend=scripted_backend, budget_tokens=2000)
    assert [s.name for s in build.sections] == ["persona_card", "relationship"]
    assert not ConversationSummary.objects.exists()
