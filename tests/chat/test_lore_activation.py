"""Lorebook activation tables: keys, secondary logic, scan depth, budget, recursion (personas.lorebook)."""

from __future__ import annotations

import pytest

from personas.lorebook import ScanMessage, book_from_card, lore_activate, split_decorators


def words(text: str) -> int:
    return len(text.split())


def fire(entries: list[dict], messages: list[str], *, budget: int | None = None, recursion: int = 3,
         default_depth: int = 4, **book: object) -> list[str]:
    """Names of the entries that fired and fit, given messages newest first."""
    card = {"name": "test", "entries": [{"name": f"e{i}", **e} for i, e in enumerate(entries)], **book}
    result = lore_activate(
        [book_from_card(card, key="b")],
        [ScanMessage(i, m) for i, m in enumerate(messages)],
        count_tokens=words, token_budget=budget, max_recursion=recursion, default_scan_depth=default_depth,
    )
    return [f.entry.name for f in result.included()]


def entry(keys: list[str], content: str = "Lore text.", **fields: object) -> dict:
    return {"keys": keys, "content": content, "enabled": True, "insertion_order": 100, "extensions": {}, **fields}


@pytest.mark.parametrize(
    ("keys", "fields", "message", "fires"),
    [
        (["Gannet Point"], {}, "we sail to gannet point tonight", True),  # case-insensitive by default
        (["Gannet Point"], {"case_sensitive": True}, "we sail to gannet point tonight", False),
        (["Gannet Point"], {"case_sensitive": True}, "we sail to Gannet Point tonight", True),
        (["ring"], {}, "the bell is ringing", True),  # plain keys match inside words
        (["ring"], {"extensions": {"match_whole_words": True}}, "the bell is ringing", False),
        (["ring"], {"extensions": {"match_whole_words": True}}, "the ring, the ring!", True),
        (["/dra(g|k)on+s?/i"], {}, "A DRAKON circles", True),  # /regex/flags always works
        (["/dra(g|k)on/"], {}, "A DRAKON circles", False),  # no i flag: case matters
        (["colou?r"], {"use_regex": True}, "what color is it", True),  # V3 use_regex
        (["colou?r"], {}, "what color is it", False),  # without it the ? is literal
        (["/unclosed(/"], {}, "unclosed(", False),  # a broken pattern matches nothing, no crash
        ([], {}, "anything", False),  # no keys, not constant: never
        (["x"], {"constant": True}, "nothing relevant", True),
        (["storm"], {"enabled": False}, "a storm comes", False),
        (["storm"], {"content": "@@dont_activate\nNever."}, "a storm comes", False),
        (["nothing"], {"content": "@@activate\nAlways."}, "a storm comes", True),
        (["nothing"], {"content": "@@additional_keys storm, gale\nWind."}, "a gale comes", True),
        (["storm"], {"content": "@@exclude_keys calm\nWind."}, "a storm, then calm", False),
    ],
)
def test_keys(keys, fields, message, fires):
    assert (fire([entry(keys, **fields)], [message]) == ["e0"]) is fires


# selectiveLogic: 0 AND ANY, 1 NOT ALL, 2 NOT ANY, 3 AND ALL
@pytest.mark.parametrize(
    ("logic", "message", "fires"),
    [
        (None, "the harbour at night", True),  # default AND ANY: one secondary is enough
        (None, "the harbour by day", False),
        (0, "the harbour in the rain at night", True),
        (3, "the harbour at night", False),  # AND ALL needs night and rain
        (3, "the harbour in the rain at night", True),
        (2, "the harbour at night", False),  # NOT ANY: no secondary may appear
        (2, "the harbour by day", True),
        (1, "the harbour in the rain at night", False),  # NOT ALL: not both
        (1, "the harbour at night", True),
    ],
)
def test_secondary_key_logic(logic, message, fires):
    ext = {} if logic is None else {"selectiveLogic": logic}
    e = entry(["harbour"], selective=True, secondary_keys=["night", "rain"], extensions=ext)
    assert (fire([e], [message]) == ["e0"]) is fires


def test_secondary_keys_are_ignored_unless_selective():
    assert fire([entry(["harbour"], secondary_keys=["night"])], ["the harbour by day"]) == ["e0"]


@pytest.mark.parametrize(
    ("book_depth", "entry_depth", "fires"),
    [
        (None, None, False),  # default 2 (passed below): the key is in the third newest message
        (3, None, True),
        (1, None, False),
        (1, 3, True),  # an entry's own scan depth wins
        (5, 2, False),
        (0, None, False),  # scan_depth 0 scans nothing
    ],
)
def test_scan_depth(book_depth, entry_depth, fires):
    ext = {} if entry_depth is None else {"scan_depth": entry_depth}
    messages = ["newest", "older", "the lighthouse", "oldest"]
    book = {} if book_depth is None else {"scan_depth": book_depth}
    assert (fire([entry(["lighthouse"], extensions=ext)], messages, default_depth=2, **book) == ["e0"]) is fires


def test_scan_depth_decorator():
    e = entry(["lighthouse"], content="@@scan_depth 3\nThe lamp is old.")
    assert fire([e], ["a", "b", "the lighthouse"], default_depth=1) == ["e0"]


@pytest.mark.parametrize(
    ("budget", "book_budget", "expected"),
    [
        (None, None, ["low", "high", "mid"]),  # everything fits; insertion order decides the order
        (6, None, ["high", "mid"]),  # 3 words each: the lowest priority gives way
        (3, None, ["high"]),
        (2, None, []),
        (None, 6, ["high", "mid"]),  # the book's own token_budget
        (3, 6, ["high"]),  # the smaller of the two wins
    ],
)
def test_token_budget_keeps_higher_priority(budget, book_budget, expected):
    entries = [
        {**entry(["x"], "one two three", priority=1, insertion_order=1), "name": "low"},
        {**entry(["x"], "four five six", priority=9, insertion_order=2), "name": "high"},
        {**entry(["x"], "seven eight nine", priority=5, insertion_order=3), "name": "mid"},
    ]
    card = {} if book_budget is None else {"token_budget": book_budget}
    result = lore_activate(
        [book_from_card({"entries": entries, **card}, key="b")], [ScanMessage(1, "x")],
        count_tokens=words, token_budget=budget,
    )
    assert [f.entry.name for f in result.included()] == expected
    assert all(f.dropped for f in result.fired if not f.included)


def test_budget_tie_goes_to_direct_hits_before_recursive_ones():
    entries = [
        {**entry(["harbour"], "The harbour has a boathouse."), "name": "direct"},
        {**entry(["boathouse"], "Boathouse words here."), "name": "recursive"},
    ]
    result = lore_activate([book_from_card({"entries": entries, "recursive_scanning": True}, key="b")],
                           [ScanMessage(1, "to the harbour")], count_tokens=words, token_budget=5)
    assert [f.entry.name for f in result.included()] == ["direct"]


@pytest.mark.parametrize(
    ("recursive", "max_recursion", "expected"),
    [
        (False, 3, ["a"]),
        (True, 0, ["a"]),
        (True, 1, ["a", "b"]),
        (True, 2, ["a", "b", "c"]),
        (True, 5, ["a", "b", "c"]),  # the chain ends by itself
    ],
)
def test_recursion_with_a_depth_limit(recursive, max_recursion, expected):
    entries = [
        {**entry(["harbour"], "The harbour has a boathouse.", insertion_order=1), "name": "a"},
        {**entry(["boathouse"], "The boathouse hides a skiff.", insertion_order=2), "name": "b"},
        {**entry(["skiff"], "The skiff is named Petrel.", insertion_order=3), "name": "c"},
    ]
    got = fire(entries, ["down to the harbour"], recursion=max_recursion, recursive_scanning=recursive)
    assert got == expected


def test_recursion_exclusions():
    entries = [
        {**entry(["harbour"], "The harbour has a boathouse and a skiff.",
                 extensions={"prevent_recursion": False}), "name": "a"},
        {**entry(["boathouse"], "Boathouse.", extensions={"exclude_recursion": True}), "name": "b"},
        {**entry(["skiff"], "Skiff.", insertion_order=200), "name": "c"},
        {**entry(["harbour"], "Mentions the lighthouse.", extensions={"prevent_recursion": True}), "name": "d"},
        {**entry(["lighthouse"], "The lamp."), "name": "e"},
    ]
    assert sorted(fire(entries, ["the harbour"], recursive_scanning=True)) == ["a", "c", "d"]


def test_why_names_the_key_and_the_message():
    book = book_from_card({"entries": [
        entry(["Gannet"], selective=True, secondary_keys=["lamp"]),
        entry(["x"], constant=True),
        entry(["boathouse"]),
        entry(["ferry"], "The ferry has a boathouse."),
    ], "recursive_scanning": True}, key="persona")
    result = lore_activate([book], [ScanMessage(7, "the lamp is lit"), ScanMessage(5, "we sail past gannet rock")],
                           count_tokens=words)
    why = {f.entry.uid: f.why for f in result.fired}
    assert why["persona#0"] == {"key": "Gannet", "message_id": 5, "logic": "AND ANY", "secondary": ["lamp"]}
    assert why["persona#1"] == {"constant": True}
    assert "persona#3" not in why and "persona#2" not in why
    result = lore_activate([book], [ScanMessage(9, "the ferry")], count_tokens=words)
    why = {f.entry.uid: f.why for f in result.fired}
    assert why["persona#2"] == {"key": "boathouse", "recursion": 1, "from": "persona#3"}


@pytest.mark.parametrize(
    ("fields", "position", "depth"),
    [
        ({}, "before_char", 4),
        ({"position": "after_char"}, "after_char", 4),
        ({"extensions": {"position": 4, "depth": 2}}, "at_depth", 2),  # SillyTavern "at depth"
        ({"extensions": {"position": 1}}, "after_char", 4),
        ({"content": "@@depth 0\nNow."}, "at_depth", 0),  # V3 decorator
        ({"position": "after_char", "content": "@@position before_desc\nX."}, "before_char", 4),
    ],
)
def test_positions(fields, position, depth):
    book = book_from_card({"entries": [entry(["k"], **fields)]}, key="b")
    e = book.entries[0]
    assert (e.position, e.depth) == (position, depth)
    assert not e.content.startswith("@@")


def test_insertion_order_orders_the_text():
    entries = [entry(["k"], "Second.", insertion_order=20), entry(["k"], "First.", insertion_order=10),
               entry(["k"], "After.", position="after_char")]
    result = lore_activate([book_from_card({"entries": entries}, key="b")], [ScanMessage(1, "k")],
                           count_tokens=words)
    assert result.text("before_char") == "First.\nSecond." and result.text("after_char") == "After."


def test_decorators_only_at_the_start():
    assert split_decorators("@@depth 2\n@@role system\nText @@depth 3") == ({"depth": "2", "role": "system"},
                                                                            "Text @@depth 3")


def test_an_anchored_regex_is_tried_message_by_message():
    assert fire([entry(["/^storm/"])], ["calm sea", "storm ahead"]) == ["e0"]  # start of the older message
    assert fire([entry(["/^storm/"])], ["calm sea", "a storm ahead"]) == []


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        (["Die Straße ist nass", "down at the harbour"], ("harbour", 2)),  # casefolding ß changes offsets
        (["the quay, then the harbour", "the harbour"], ("harbour", 1)),  # newest message wins, then key order
        (["nothing", "quay"], ("quay", 2)),
    ],
)
def test_why_points_at_the_newest_message_with_a_key(messages, expected):
    book = book_from_card({"entries": [entry(["harbour", "quay"])]}, key="b")
    scan = [ScanMessage(i + 1, text) for i, text in enumerate(messages)]
    (fired,) = lore_activate([book], scan, count_tokens=words).fired
    assert (fired.why["key"], fired.why["message_id"]) == expected
