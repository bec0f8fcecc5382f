"""The deterministic extractor: what the rules pull out of a user's message."""

from __future__ import annotations

import pytest

from companion.memory.extraction import extract_rules, has_retraction_cue, sentiment, third_person


def _by_slot(text: str) -> dict[tuple[str, bool], str]:
    return {(c.slot, c.retract): c.text for c in extract_rules(text)}


def test_name_and_preference_in_one_message():
    found = _by_slot("Hi! My name is Sam and I love green tea.")
    assert found[("name", False)] == "The user's name is Sam."
    assert found[("likes:green tea", False)] == "The user loves green tea."


@pytest.mark.parametrize(
    ("text", "slot", "expected"),
    [
        ("I work as a nurse.", "occupation", "The user works as a nurse."),
        ("Please don't call me Sammy.", "boundary:call:sammy", "The user does not want to be called Sammy."),
        ("I have a dog named Biscuit.", "has:biscuit", "The user has a dog named Biscuit."),
        ("I live in Berlin.", "location", "The user lives in Berlin."),
        ("My favorite color is blue.", "favorite:color", "The user's favourite color is blue."),
        ("My birthday is March 3rd.", "birthday", "The user's birthday is March 3rd."),
        ("I hate mondays", "likes:mondays", "The user dislikes mondays."),
        ("I'm a software engineer", "identity:software engineer", "The user is a software engineer."),
    ],
)
def test_single_rules(text, slot, expected):
    assert _by_slot(text)[(slot, False)] == expected


@pytest.mark.parametrize(
    ("text", "slot"),
    [
        ("I no longer like coffee.", "likes:coffee"),
        ("I don't live in Berlin anymore.", "location"),
        ("I no longer work as a nurse.", "occupation"),
    ],
)
def test_retractions_point_at_the_slot(text, slot):
    found = _by_slot(text)
    assert (slot, True) in found
    assert (slot, False) not in found  # a retraction never stores the old value again


def test_questions_and_small_talk_store_nothing():
    assert extract_rules("Do you like tea?") == []
    assert extract_rules("I'm a bit tired tonight.") == []
    assert extract_rules("haha ok") == []


def test_names_stop_at_lowercase_words():
    assert _by_slot("my name is Mary Jane and I'm here")[("name", False)] == "The user's name is Mary Jane."


def test_helpers():
    assert third_person("my cat and I") == "their cat and they"
    assert has_retraction_cue("Actually, that's not true")
    assert not has_retraction_cue("I love tea")
    s = sentiment("Thank you so much, you're the best! :)")
    assert s.positive >= 2 and s.negative == 0
    assert sentiment("Shut up, you're useless").negative >= 2
    assert sentiment("I'm sorry about earlier").apology
