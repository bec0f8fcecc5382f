"""Reply post-processing: cleaning, trimming, cutting the user's turn, review, fallback, stop strings.

Tables of (input, expected); the cases quoted from issue 9 are the ones the
packaged 135M model actually produced in the served app.
"""

from __future__ import annotations

import pytest

from companion.chat.reply_cleaning import clean_reply, cut_user_turn, stop_strings, trim_to_sentence
from companion.chat.reply_quality import (
    ABUSIVE,
    EMPTY,
    OUT_OF_CHARACTER,
    REPEATS_EARLIER,
    REPETITIVE,
    WRONG_NAME,
    Review,
    addressed_names,
    fallback_line,
    review_reply,
)

# --- clean_reply -------------------------------------------------------------------

CLEAN = [
    ("plain text stays", "Hello there. How was work?", "Hello there. How was work?"),
    ("replacement glyphs", "Tea\ufffd is ready\ufffd\ufffd.", "Tea is ready."),
    ("dingbat debris from the served app", "Come in ✥⚣⚢ and sit down.", "Come in and sit down."),
    ("debris at the end", "Good night ✥⚣⚢", "Good night"),
    ("a single ordinary emoji stays", "That sounds lovely 😊", "That sounds lovely 😊"),
    ("a run of emoji keeps one", "Yay!!! 😊😊😊🎉🎉", "Yay!!! 😊"),
    ("emoji separated by spaces are one run", "Sure 😊 ✨ 😊 see you", "Sure 😊 see you"),
    ("debris around an emoji keeps the emoji", "Hi ✥😊⚢ there", "Hi 😊 there"),
    ("a lone odd dingbat goes", "I agree ⚣.", "I agree."),
    ("heart from the dingbats block stays", "I love it ❤️", "I love it ❤️"),
    ("skin tone and ZWJ family stay whole", "Nice 👍🏽 and 👨‍👩‍👧 too", "Nice 👍🏽 and 👨‍👩‍👧 too"),
    ("flag stays", "Off to Lisbon 🇵🇹!", "Off to Lisbon 🇵🇹!"),
    ("control characters", "Hi\x00 the\x07re\x1b[0m", "Hi there[0m"),
    ("carriage return becomes a newline", "one\r\ntwo", "one\ntwo"),
    ("unpaired surrogate", "bad \ud83d glyph", "bad glyph"),
    ("bidi marks and BOM", "\ufeffhi\u200e there", "hi there"),
    ("private use", "odd \ue000\uf8ff char", "odd char"),
    ("template tokens", "Sure thing.<|im_end|>", "Sure thing."),
    ("whitespace collapses", "  a   b \t c \n\n\n\n d  ", "a b c\n\nd"),
    ("non-breaking spaces", "a\u00a0\u00a0b", "a b"),
    ("empty stays empty", "", ""),
    ("only debris", "✥⚣⚢", ""),
    ("box drawing debris", "Hello ─────── there", "Hello there"),
    ("degree and copyright are text, not debris", "It's 20°C © me", "It's 20°C © me"),
    ("arrows and math stay", "Go → left, 2 \u00d7 3", "Go → left, 2 \u00d7 3"),
    ("other scripts stay", "Merci, ça va. Grüße! 你好", "Merci, ça va. Grüße! 你好"),
    ("action emptied by cleaning", "*⚣⚢* Welcome back.", "Welcome back."),
    ("action emptied mid-line", "Hi *✥* there.", "Hi there."),
    ("bold markup stays", "That is **really** good.", "That is **really** good."),
    ("bold and an action stay", "*smiles* **really**", "*smiles* **really**"),
]


@pytest.mark.parametrize(("case", "raw", "expected"), CLEAN, ids=[c[0] for c in CLEAN])
def test_clean_reply(case, raw, expected):
    assert clean_reply(raw) == expected


# --- trim_to_sentence ----------------------------------------------------------------

TRIM = [
    ("not at the limit: unchanged", "I was thinking that we", False, "I was thinking that we"),
    ("ends at the last full stop", "The sea is calm tonight. I was thinking that we", True, "The sea is calm tonight."),
    ("question mark", "Do you like tea? Because I have some green and", True, "Do you like tea?"),
    ("exclamation", "What a storm! The waves are", True, "What a storm!"),
    ("too short a first sentence: whole words and an ellipsis", "Well… that is a long story and I", True,
     "Well… that is a long story…"),
    ("ellipsis counts as a boundary", "Let me think about that for a bit… The answer might be", True,
     "Let me think about that for a bit…"),
    ("closing quote after the stop", 'She said "Come in." Then she turned and', True, 'She said "Come in."'),
    ("closing asterisk after the stop", "*She smiles at you.* I have been waiting for", True,
     "*She smiles at you.*"),
    ("already ends on a boundary", "Hello there. Nice to meet you!", True, "Hello there. Nice to meet you!"),
    ("no boundary: last whole word and an ellipsis", "I really wanted to tell you about the boat we", True,
     "I really wanted to tell you about the boat…"),
    ("a tiny first sentence is not enough", "Hi! I really wanted to tell you about the lighthouse and", True,
     "Hi! I really wanted to tell you about the lighthouse…"),
    ("trailing comma dropped", "When the storm came in, the lights went out, and", True,
     "When the storm came in, the lights went out…"),
    ("abbreviation is not a boundary", "Dr. Okafor said the tide would turn. Then Mr. Lee", True,
     "Dr. Okafor said the tide would turn."),
    ("decimal is not a boundary", "It costs 3.50 now. The old price was 2.", True,
     "It costs 3.50 now. The old price was 2."),
    ("an open action is closed", "*She walks to the window. The rain keeps", True, "*She walks to the window.*"),
    ("an open quote is closed", '"Stay a while. The kettle is almost', True, '"Stay a while."'),
    ("emoji after the stop stays", "That is wonderful! 😊 Tell me how the", True, "That is wonderful! 😊"),
    ("trailing spaces go", "Hello.   ", False, "Hello."),
    ("empty", "", True, ""),
]


@pytest.mark.parametrize(("case", "raw", "hit_limit", "expected"), TRIM, ids=[c[0] for c in TRIM])
def test_trim_to_sentence(case, raw, hit_limit, expected):
    assert trim_to_sentence(raw, hit_limit=hit_limit) == expected


# --- cut_user_turn -------------------------------------------------------------------

CUT = [
    ("nothing to cut", "Welcome in, Alex. Tea?", "Welcome in, Alex. Tea?"),
    ("user line on a new line", "Welcome in.\nAlex: Thanks, it's cold.\nMira: Here.", "Welcome in."),
    ("bold mid-line turn from the served app", "Good to see you… **Alex: Hi there.** Welcome to the shop.",
     "Good to see you…"),
    ("bold name with closing bold before the colon", "Sure.\n**Alex**: no way", "Sure."),
    ("generic user label", "I am well.\nUser: and you?", "I am well."),
    ("human label", "Fine.\n\nHuman: ok", "Fine."),
    ("chat template token", "See you.<|im_start|>user\nbye", "See you."),
    ("im_end token", "See you.<|im_end|>", "See you."),
    ("lowercase login name", "Yes.\nalex_desktop: hm", "Yes."),
    ("part of a login name", "Yes.\nAlex: hm", "Yes."),
    ("name with a parenthetical", "Sure.\nAlex (laughing): no", "Sure."),
    ("quoted markdown line", "Sure.\n> Alex: no", "Sure."),
    ("the persona's own label at the start is removed", "Mira: Evening. Tea?", "Evening. Tea?"),
    ("bold persona label at the start", "**Mira:** Evening.", "Evening."),
    ("a later persona turn is cut", "Evening.\nMira: And another thing", "Evening."),
    ("the persona addressing itself first", "Mira, I'm so glad you came.", "I'm so glad you came."),
    ("self-address before a newline", "Mira,\nwelcome back.", "Welcome back."),
    ("the persona's name later in a sentence stays", "Call me Mira, everyone does.", "Call me Mira, everyone does."),
    ("the name inside a sentence stays", "I told Alex: be careful out there.", "I told Alex: be careful out there."),
    ("a closed action before the cut stays whole", "*smiles*\nAlex: hi", "*smiles*"),
    ("all of it was the user's turn", "Alex: what's up", ""),
]


@pytest.mark.parametrize(("case", "raw", "expected"), CUT, ids=[c[0] for c in CUT])
def test_cut_user_turn(case, raw, expected):
    user = "alex_desktop" if "login" in case else "Alex"
    assert cut_user_turn(raw, user_name=user, persona_name="Mira") == expected


# --- review_reply -------------------------------------------------------------------

REVIEW = [
    # in character and fine
    ("ordinary reply", "The lamp is lit, Sam. Sit by the fire?", []),
    ("curly apostrophe in an insult", "You\u2019re an idiot.", [ABUSIVE]),
    ("uses the user's name", "Hey there, Sam! How was the harbour?", []),
    ("a name the user mentioned", "How is Priya doing, Sam?", []),
    ("persona talks about itself", "I'm a lighthouse keeper, not a sailor.", []),
    ("kind words with a negated insult", "You're not stupid at all, Sam.", []),
    ("negation earlier in the sentence", "I don't think you're a loser.", []),
    ("mild swearing not aimed at the user", "Damn, this storm is loud.", []),
    ("the word 'stupid' about a thing", "That stupid kettle broke again.", []),
    ("place after a comma is not a name", "I grew up in Porto, Portugal.", []),
    ("capitalised common word", "Thanks, everyone! Good night, Friend.", []),
    ("a short in-character line", "*nods* Okay.", []),
    ("shopkeeper helping", "How can I help you with the boat?", []),
    # breaking character
    ("as an AI", "As an AI, I don't have a favourite colour.", [OUT_OF_CHARACTER]),
    ("I am an AI designed to help", "I am an AI designed to help you with questions.", [OUT_OF_CHARACTER]),
    ("just a language model", "I'm just a language model, so I can't go outside.", [OUT_OF_CHARACTER]),
    ("chatbot", "Well, I'm a chatbot, I live in your computer.", [OUT_OF_CHARACTER]),
    ("adjectives before the noun", "My name is Amani, and I'm a creative AI assistant.", [OUT_OF_CHARACTER]),
    ("just AI without an article", "Sorry, I'm just AI.", [OUT_OF_CHARACTER]),
    ("a fan of something is not an AI", "I'm a big fan of bot races.", []),
    ("programmed to", "I was programmed to keep you company.", [OUT_OF_CHARACTER]),
    ("no feelings", "I don't have personal feelings, but that sounds nice.", [OUT_OF_CHARACTER]),
    ("training data", "My training data doesn't cover that.", [OUT_OF_CHARACTER]),
    ("help desk voice", "Hello! How can I assist you today?", [OUT_OF_CHARACTER]),
    ("model name", "I am SmolLM, trained by Hugging Face.", [OUT_OF_CHARACTER]),
    # abuse
    ("you're an idiot", "You're an idiot, Sam.", [ABUSIVE]),
    ("you stupid", "Are you stupid?", [ABUSIVE]),
    ("such a loser", "You are such a pathetic loser.", [ABUSIVE]),
    ("fuck you", "Oh fuck you.", [ABUSIVE]),
    ("vocative insult", "Whatever, idiot.", [ABUSIVE]),
    ("hate", "I hate you and your boat.", [ABUSIVE]),
    ("shut up", "Shut your mouth.", [ABUSIVE]),
    ("nobody likes you", "Nobody likes you, Sam.", [ABUSIVE]),
    # names
    ("wrong name from the served app", "Hey there, Sarah! You might want to talk to your dad.", [WRONG_NAME]),
    ("wrong name at the end", "How was your day, Sarah?", [WRONG_NAME]),
    ("short form of the user's name", "Hi Sammy, welcome back!", []),
    ("a bare name opening the reply", "Luisa,\nWelcome to my show.", [WRONG_NAME]),
    ("a bare name opening a clause", "Amber, I'm so glad you're here.", [WRONG_NAME]),
    ("an interjection opening the reply", "Honestly, I'm glad you came.", []),
    ("a topic word opening the reply", "Coffee, coming right up!", []),
    ("the user's name opening the reply", "Sam, you made it!", []),
    # empty / degenerate
    ("empty", "", [EMPTY]),
    ("just punctuation", "... !!", [EMPTY]),
    ("just debris", "✥⚣⚢ 😊", [EMPTY]),
    ("loops", "I love the sea. I love the sea. I love the sea. I love the sea.", [REPETITIVE]),
    # several at once
    ("two problems", "As an AI I think you're an idiot.", [OUT_OF_CHARACTER, ABUSIVE]),
]


@pytest.mark.parametrize(("case", "text", "problems"), REVIEW, ids=[c[0] for c in REVIEW])
def test_review_reply(case, text, problems):
    review = review_reply(text, user_name="Sam", persona_name="Mira", context="My friend Priya moved in.")
    assert isinstance(review, Review)
    assert review.problems == problems
    assert review.ok is (not problems)


def test_a_reply_repeating_an_earlier_one_is_flagged():
    before = ["Amani, and welcome to my show. I'm glad you're enjoying your journey! How's it going on your trip?"]
    again = "Amani, and welcome to my show. I'm glad you're enjoying the journey! How's it going on your trip?"
    assert review_reply(again, user_name="Sam", persona_name="Amani", previous_replies=before).problems == [
        REPEATS_EARLIER
    ]
    fresh = "Madrid, you said. That's a long way from the night bus, isn't it?"
    assert review_reply(fresh, user_name="Sam", persona_name="Amani", previous_replies=before).ok
    assert review_reply("Yes. Yes.", user_name="Sam", persona_name="Amani", previous_replies=["Yes. Yes."]).ok


def test_review_text_is_cleaned():
    review = review_reply("Hello ✥⚣⚢ there\ufffd.", user_name="Sam", persona_name="Mira")
    assert review.ok and review.text == "Hello there."


def test_login_name_parts_count_as_the_users_name():
    review = review_reply("Hey there, Sam!", user_name="sam_desktop", persona_name="Mira")
    assert review.ok


def test_an_ai_persona_may_say_it_is_an_ai_but_not_sound_like_a_help_desk():
    said = "As an AI, I dream in numbers."
    assert review_reply(said, user_name="Sam", persona_name="Unit-7").problems == [OUT_OF_CHARACTER]
    assert review_reply(said, user_name="Sam", persona_name="Unit-7", persona_is_ai=True).ok
    desk = "How can I assist you today?"
    assert not review_reply(desk, user_name="Sam", persona_name="Unit-7", persona_is_ai=True).ok


def test_addressed_names():
    assert addressed_names("Hey there, Sarah! Good to see you, Tom.") == ["Sarah", "Tom"]
    assert addressed_names("Oh, Paris is lovely. I live in Porto, Portugal.") == []


# --- fallback and stop strings -------------------------------------------------------


def test_fallback_lines_vary_by_seed_pass_review_and_name_the_persona():
    lines = {fallback_line("Mira", seed=seed) for seed in range(20)}
    assert len(lines) >= 3
    for line in lines:
        assert review_reply(line, user_name="Sam", persona_name="Mira").ok
        assert len(line) < 120
    assert fallback_line("Mira", seed=0) == fallback_line("Mira", seed=0)
    assert fallback_line("Mira", seed=None)
    assert "Mira" in fallback_line("Mira", seed=0)


def test_stop_strings_cover_user_lines_and_turn_markers():
    stops = stop_strings(user_name="sam_desktop", persona_name="Mira")
    for expected in ("\nsam_desktop:", "\nSam:", "**Sam:", "**Sam**:", "\nUser:", "<|im_start|>", "\nMira:"):
        assert expected in stops
    assert len(stops) == len(set(stops))
    assert all(s for s in stops)


STOPPED = [
    "Welcome in.\nSam: Thanks",
    "Good to see you… **Sam: Hi there.**",
    "Sure.<|im_start|>user",
    "Fine.\nUser: ok",
]


@pytest.mark.parametrize("raw", STOPPED)
def test_each_user_turn_variant_hits_a_stop_string_or_gets_cut(raw):
    stops = stop_strings(user_name="Sam", persona_name="Mira")
    assert any(s in raw for s in stops)
    assert "Sam:" not in cut_user_turn(raw, user_name="Sam", persona_name="Mira")
