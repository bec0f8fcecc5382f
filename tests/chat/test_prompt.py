"""Prompt assembly: persona card and macros, token budget, section order, the plug-in seam."""

from __future__ import annotations

import pytest

from companion.chat.models import Message
from companion.chat.prompt import (
    PromptSection,
    apply_macros,
    prompt_build,
    register_prompt_section,
    unregister_prompt_section,
)
from companion.chat.services import message_create
from companion.llm.scripted import ScriptedBackend

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _only_our_providers(monkeypatch):
    """Other apps (memory) register providers at startup; these tests control the list."""
    monkeypatch.setattr("companion.chat.prompt._providers", [])


class WordCounter(ScriptedBackend):
    """Counts one token per word, so budgets in these tests are easy to reason about."""

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def _say(conversation, role, text, **kw):
    return message_create(
        conversation=conversation, role=role, kind="text", content=text, status=kw.pop("status", "complete"), **kw
    )


def test_apply_macros_replaces_char_and_user_in_any_case():
    text = "{{char}} waves at {{user}}. {{Char}}/{{ USER }} <BOT> <USER>"
    assert apply_macros(text, char="Mira", user="Alice") == "Mira waves at Alice. Mira/Alice Mira Alice"


def test_persona_card_carries_every_field_with_macros_resolved(conversation):
    build = prompt_build(conversation=conversation, backend=WordCounter(), budget_tokens=1000)
    system = build.turns[0]
    assert system.role == "system"
    for expected in (
        "You are Mira, talking with Alice",  # default system prompt
        "Mira is a lighthouse keeper who talks to Alice at night.",
        "Mira's personality: dry humour, patient",
        "Scenario: A stormy evening at the lighthouse.",
        "Alice: Hi\nMira: Mind the stairs.",
    ):
        assert expected in system.content
    assert "{{" not in system.content and "<START>" not in system.content
    # greeting is the first assistant turn, post-history instructions the last turn
    assert build.turns[1].role == "assistant" and build.turns[1].content == "Evening, Alice. I'm Mira. Tea?"
    assert build.turns[-1].role == "system"
    assert build.turns[-1].content == "Answer as Mira in two sentences at most."


def test_reply_guide_closes_the_card_and_names_the_user(conversation, settings):
    system = prompt_build(conversation=conversation, backend=WordCounter(), budget_tokens=1000).turns[0].content
    guide = "You are Mira, talking with Alice. Call them Alice. Reply as Mira only"
    assert guide in system and "Never write Alice's lines." in system
    assert system.index("Mind the stairs.") < system.index(guide)  # after the card's own fields

    settings.CHAT_REPLY_GUIDE = ""
    system = prompt_build(conversation=conversation, backend=WordCounter(), budget_tokens=1000).turns[0].content
    assert "Call them Alice" not in system


def test_system_prompt_field_replaces_the_default(conversation, persona):
    persona.system_prompt = "Write {{char}}'s next reply to {{user}}."
    persona.save()
    conversation.refresh_from_db()
    system = prompt_build(conversation=conversation, backend=WordCounter(), budget_tokens=1000).turns[0].content
    assert system.startswith("Write Mira's next reply to Alice.")
    assert "Stay in character and reply as Mira" not in system  # the default opening line is gone


def test_budget_keeps_newest_turns_and_drops_oldest_first(conversation):
    for i in range(10):
        _say(conversation, "user", f"question {i} " + "word " * 8)  # 10 words each
        _say(conversation, "persona", f"answer {i} " + "word " * 8)
    backend = WordCounter()
    full = prompt_build(conversation=conversation, backend=backend, budget_tokens=100_000)
    fixed = full.system_tokens + full.post_history_tokens
    per_turn = 10 + 4  # words + TURN_OVERHEAD_TOKENS

    build = prompt_build(conversation=conversation, backend=backend, budget_tokens=fixed + 5 * per_turn)
    contents = [t.content for t in build.turns[1:-1]]
    assert len(contents) == 5
    assert contents[0].startswith("answer 7") and contents[-1].startswith("answer 9")
    assert build.history_dropped == 21 - 5  # 20 turns + greeting
    assert build.total_tokens <= build.budget_tokens
    assert build.compact()["tokens"]["total"] == build.total_tokens


def test_a_long_conversation_reads_only_the_turns_that_could_fit(conversation, monkeypatch):
    """One-word turns cost 5 tokens each: a 300-token budget can never hold more than 61 of 400."""
    from companion.chat import prompt

    Message.objects.bulk_create(
        Message(conversation=conversation, seq=i + 2, changed_seq=i + 2, role="user" if i % 2 else "persona",
                content=f"w{i}") for i in range(400)
    )
    read = []

    class CountedTurn(prompt.HistoryTurn):
        def __new__(cls, *row):
            read.append(row[0])
            return super().__new__(cls, *row)

    monkeypatch.setattr(prompt, "HistoryTurn", CountedTurn)
    build = prompt_build(conversation=conversation, backend=WordCounter(), budget_tokens=300)
    assert len(read) == 300 // 5 + 1  # the window, not all 401 turns
    kept = len(build.history_message_ids)
    assert 0 < kept <= 300 // 5 + 1
    newest = Message.objects.filter(conversation=conversation).order_by("-seq").values_list("pk", flat=True)[:kept]
    assert sorted(build.history_message_ids) == sorted(newest)  # the newest turns, as before
    assert build.history_dropped == 401 - kept  # the greeting and every turn past the window still count


def test_newest_turn_is_kept_even_when_it_alone_overflows(conversation):
    _say(conversation, "user", "word " * 500)
    build = prompt_build(conversation=conversation, backend=WordCounter(), budget_tokens=50)
    assert build.turns[-2].role == "user" and len(build.turns[-2].content.split()) == 500
    assert build.history_message_ids == [conversation.messages.order_by("-seq").first().pk]


def test_history_skips_deleted_inactive_failed_and_other_kinds(conversation):
    kept = _say(conversation, "user", "keep me")
    gone = _say(conversation, "user", "deleted one")
    gone.deleted = True
    gone.save()
    _say(conversation, "persona", "half a reply", status="failed")
    old = _say(conversation, "persona", "old version")
    old.is_active = False
    old.save()
    message_create(conversation=conversation, role="system", kind="notice", content="render queued", status="complete")
    build = prompt_build(conversation=conversation, backend=WordCounter(), budget_tokens=1000)
    texts = [t.content for t in build.turns]
    assert "keep me" in texts
    assert not {"deleted one", "half a reply", "old version", "render queued"} & set(texts)
    assert kept.pk in build.history_message_ids


def test_history_for_a_regenerated_reply_stops_at_its_slot(conversation):
    question = _say(conversation, "user", "first question")
    answer = _say(conversation, "persona", "first answer")
    _say(conversation, "user", "second question")
    build = prompt_build(conversation=conversation, backend=WordCounter(), budget_tokens=1000, before_seq=answer.seq)
    assert build.history_message_ids[-1] == question.pk
    assert "second question" not in [t.content for t in build.turns]


def test_sections_plug_in_by_priority_and_a_broken_provider_is_skipped(conversation):
    seen_queries = []

    def memories(*, conversation, query_text):
        seen_queries.append(query_text)
        return [PromptSection("memories", "Alice likes storms.", 30)]

    def relationship(*, conversation, query_text):
        return [PromptSection("relationship", "Trust: high.", 20)]

    def summary(*, conversation, query_text):
        return [PromptSection("summary", "Earlier they talked about ships.", 40)]

    def broken(*, conversation, query_text):
        raise RuntimeError("index offline")

    _say(conversation, "user", "what do you remember?")
    providers = [summary, memories, broken, relationship]
    for provider in providers:
        register_prompt_section(provider)
    try:
        build = prompt_build(conversation=conversation, backend=WordCounter(), budget_tokens=1000)
    finally:
        for provider in providers:
            unregister_prompt_section(provider)

    assert [s.name for s in build.sections] == ["persona_card", "relationship", "memories", "summary"]
    system = build.turns[0].content
    assert system.index("lighthouse keeper") < system.index("Trust: high.") < system.index("Alice likes storms.")
    assert system.index("Alice likes storms.") < system.index("Earlier they talked about ships.")
    assert seen_queries == ["what do you remember?"]
    compact = build.compact()
    assert [s["name"] for s in compact["sections"]] == ["persona_card", "relationship", "memories", "summary"]
    assert all(s["tokens"] > 0 for s in compact["sections"])


def test_optional_sections_give_way_when_the_budget_is_tight(conversation):
    def big(*, conversation, query_text):
        return [PromptSection("memories", "fact " * 300, 30), PromptSection("relationship", "close friends", 20)]

    register_prompt_section(big)
    try:
        build = prompt_build(conversation=conversation, backend=WordCounter(), budget_tokens=200)
    finally:
        unregister_prompt_section(big)
    included = {s.name: s.included for s in build.sections}
    assert included == {"persona_card": True, "relationship": True, "memories": False}
    assert "fact fact" not in build.turns[0].content
    assert "close friends" in build.turns[0].content


def test_greeting_is_message_one_of_a_new_conversation(conversation):
    first = Message.objects.get(conversation=conversation)
    assert (first.seq, first.role, first.status) == (1, "persona", "complete")
    assert first.content == "Evening, Alice. I'm Mira. Tea?"
