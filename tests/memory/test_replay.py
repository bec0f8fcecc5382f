"""An import's exchanges replayed in memory and written in bulk (``memory.replay``) leave exactly what
replaying them one by one through ``pipeline.exchange_process`` (the live chat's path) leaves: the same
relationship, milestones and memories, also when the pair already had a chat, and after an
interrupted replay is run again."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.db.models import F

from companion.memory import importer, recall_index, replay
from companion.memory.importer import chat_import, import_finish
from companion.memory.models import Memory, Milestone, RelationshipState
from companion.memory.sillytavern import parse_chat

pytestmark = pytest.mark.django_db

# What the slot rules and the relationship react to: names (and a correction), tastes said again,
# retracted, boundaries, a falling-out and making up, warm and cold days; the rest is small talk.
USER_LINES = [
    "My name is Sam.", "I love green tea.", "I like hiking in the hills.", "I really love green tea!",
    "I don't like hiking anymore, my knee hurts.", "Actually, my name is Samuel.", "Please don't call me Sammy.",
    "Call me Sam, everyone does.", "I hate you, shut up.", "Sorry, I didn't mean it. Thank you for listening.",
    "Thank you, you're amazing <3", "haha yes", "Work was long today.", "I have a dog named Biscuit.",
    "I live in Leeds.", "I moved to York last month.", "I love jazz.", "I love jazz.", "I'm scared of the dark.",
    "Honestly, I never told anyone that.", "Ugh, whatever.", "I work as a nurse.", "My sister Jo lives in Oslo.",
    "I love you, you're the best.", "What are you up to?", "I'm allergic to peanuts.", "I no longer eat meat.",
    "I like chess.", "I stopped playing chess.", "I went to the coast with Jo on Saturday.",
]
PERSONA_LINES = ["That sounds lovely.", "Tell me everything.", "I'm glad you told me.", "The gulls were loud.",
                 "Oh no, I'm sorry.", "Sleep well.", "I painted the railing white again."]


def _chat(seed: int, start: datetime, days: int, turns: int, *, opening: str = "", new: tuple = ()) -> list[str]:
    rng = random.Random(seed)
    lines = [json.dumps({"user_name": "Sam", "character_name": "Mira", "create_date": "2023-03-02@19h05m00s"})]
    when = start
    for i in range(turns):
        is_user = i % 2 == 0 or rng.random() < 0.1
        if i % 12 == 0:
            when += timedelta(days=rng.randrange(1, days))
        when += timedelta(minutes=rng.randrange(1, 5))
        text = opening if i == 0 and opening else rng.choice([*USER_LINES, *new] if is_user else PERSONA_LINES)
        lines.append(json.dumps({"name": "Sam" if is_user else "Mira", "is_user": is_user, "mes": text,
                                 "send_date": when.isoformat() + "+00:00"}))
    return lines


# The second chat opens by correcting a fact the first one stored, then tells new ones.
CHATS = [_chat(1, datetime(2023, 3, 2, 19, 5), 20, 240),
         _chat(2, datetime(2024, 2, 1, 9, 0), 9, 160, opening="Actually, my name is Samuel.",
               new=("I love sushi.", "I live in Bristol now.", "I work as a carpenter."))]


def _import(username: str, persona, monkeypatch, *, per_exchange: bool) -> object:
    user = get_user_model().objects.create_user(username, password="pw-12345-x")  # no display name
    with monkeypatch.context() as m:
        if per_exchange:
            m.setattr(importer, "_one_listener", lambda *a: False)
        for lines in CHATS:
            recall_index.clear_cache()
            chat_import(chat=parse_chat(lines), user=user, persona=persona)
    return user


def _snapshot(user, persona) -> dict:
    chats = {pk: n for n, pk in enumerate(user.conversations.order_by("pk").values_list("pk", flat=True))}

    def seq(message) -> tuple | None:  # messages by (chat, seq): the two imports have their own pks
        return None if message is None else (chats[message.conversation_id], message.seq)

    state = RelationshipState.objects.get(user=user, persona=persona)
    from companion.chat.models import Message

    last = Message.objects.get(pk=state.last_user_message_id)
    memories = []
    for m in Memory.objects.filter(user=user, persona=persona).select_related("message").prefetch_related(
            "source_messages").order_by("created_at", "layer", "text", "pk"):
        memories.append({
            "text": m.text, "layer": m.layer, "kind": m.kind, "slot": m.slot, "speaker": m.speaker,
            "importance": m.importance, "created_at": m.created_at, "ended_at": m.ended_at,
            "message": seq(m.message), "sources": sorted(seq(s) for s in m.source_messages.all()),
            "edited_by_user": m.edited_by_user, "vector": m.vector(),
        })
    return {
        "state": {f: getattr(state, f) for f in ("stage", "affinity", "trust", "exchanges", "pending_stage",
                                                   "pending_count", "first_met_at", "last_exchange_at")}
        | {"last": seq(last)},
        "milestones": [(x.kind, x.title, x.happened_at, seq(x.message), x.data) for x in
                       Milestone.objects.filter(user=user, persona=persona).select_related("message")
                       .order_by("happened_at", "pk")],
        "memories": memories,
    }


def _same(a: dict, b: dict) -> None:
    assert a["state"] == b["state"]
    assert a["milestones"] == b["milestones"]
    assert len(a["memories"]) == len(b["memories"])
    for x, y in zip(a["memories"], b["memories"], strict=True):
        vx, vy = x.pop("vector"), y.pop("vector")
        assert x == y
        # Same texts embedded; batches may pad differently (float noise only).
        assert (vx is None) == (vy is None) and (vx is None or np.allclose(vx, vy, atol=1e-5))


def test_the_bulk_replay_leaves_what_the_per_exchange_replay_leaves(persona, monkeypatch):
    old = _snapshot(_import("old", persona, monkeypatch, per_exchange=True), persona)
    snapshots = []
    real = replay.Replay._snapshot
    monkeypatch.setattr(replay.Replay, "_snapshot", lambda self: snapshots.append(1) or real(self))
    new = _snapshot(_import("new", persona, monkeypatch, per_exchange=False), persona)
    # The second chat corrected a stored fact before its first new one: stored before the index was read.
    assert snapshots
    # The chat exercised the rules: a stage reached, a falling-out, facts corrected and retracted.
    kinds = {k for k, *_ in old["milestones"]}
    assert {"first_meeting", "conflict", "reconciliation", "stage_change", "anniversary"} <= kinds
    rules = [m for m in old["memories"] if m["layer"] == "semantic" and not m["slot"].startswith("said:")]
    assert {"name", "likes:green tea", "boundary:call:sammy"} <= {m["slot"] for m in rules}
    assert any(len(m["sources"]) > 1 for m in rules)  # said again: one more source, no second row
    _same(old, new)


def test_an_interrupted_bulk_replay_finishes_where_it_stopped(persona, monkeypatch):
    old = _snapshot(_import("old", persona, monkeypatch, per_exchange=True), persona)

    user = get_user_model().objects.create_user("new", password="pw-12345-x")
    monkeypatch.setattr(replay, "WRITE_EVERY", 25)
    real = replay.Replay.exchange
    calls = {"n": 0}

    def crash_after_60(self, message):
        calls["n"] += 1
        if calls["n"] > 60:
            raise KeyboardInterrupt
        real(self, message)

    for n, lines in enumerate(CHATS):
        recall_index.clear_cache()
        if n == 0:
            with monkeypatch.context() as m:
                m.setattr(replay.Replay, "exchange", crash_after_60)
                with pytest.raises(KeyboardInterrupt):
                    chat_import(chat=parse_chat(lines), user=user, persona=persona)
            counted = RelationshipState.objects.get(user=user, persona=persona).exchanges
            assert 0 < counted <= 60 and counted % 25 == 0  # what the last write stored
            conversation = user.conversations.get()
            import_finish(conversation=conversation)  # the command run again: finishes the import
        else:
            chat_import(chat=parse_chat(lines), user=user, persona=persona)
    _same(old, _snapshot(user, persona))


def test_a_live_write_to_the_pair_meanwhile_sends_the_rest_exchange_by_exchange(persona, monkeypatch):
    """Another conversation with the persona wrote a memory between two writes of the replay: that batch
    is not written over it, and the rest of the import goes through exchange_process."""
    user = get_user_model().objects.create_user("new", password="pw-12345-x")
    monkeypatch.setattr(replay, "WRITE_EVERY", 25)
    real = replay.Replay.write
    writes = {"n": 0}

    def write(self):
        writes["n"] += 1
        if writes["n"] == 2:  # a live exchange lands between the first and the second write
            Memory.objects.create(user=user, persona=persona, text="Sam plays the oboe.", layer="semantic",
                                  slot="likes:oboe")
            RelationshipState.objects.filter(user=user, persona=persona).update(exchanges=F("exchanges") + 1)
        real(self)

    monkeypatch.setattr(replay.Replay, "write", write)
    result = chat_import(chat=parse_chat(CHATS[0]), user=user, persona=persona)
    state = RelationshipState.objects.get(user=user, persona=persona)
    users_turns = result.conversation.messages.filter(role="user").order_by("seq")
    assert state.last_user_message_id == users_turns.last().pk
    assert writes["n"] >= 2
    assert state.exchanges == users_turns.count() + 1  # every exchange counted once, the live one kept
    assert Memory.objects.filter(user=user, text="Sam plays the oboe.").exists()
