"""Relationship stages (with hysteresis) and milestones."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from companion.memory.models import Milestone
from companion.memory.relationship import DEFAULT_STAGES, stages_for
from companion.memory.selectors import milestones_for_pair, relationship_get

pytestmark = pytest.mark.django_db


def _kinds(user, persona):
    return [m.kind for m in milestones_for_pair(user=user, persona=persona)]


def test_first_exchange_records_first_meeting(play, user, persona):
    um, _ = play.say("Hello there.")
    state = relationship_get(user=user, persona=persona)
    assert state.stage == "stranger" and state.exchanges == 1
    first = Milestone.objects.get(user=user, persona=persona)
    assert first.kind == "first_meeting" and first.message == um


def test_warm_chats_climb_the_ladder_one_step_at_a_time(play, user, persona):
    stages = []
    for i in range(40):
        play.say(f"Thank you, you're the best! I feel happy talking to you. Honestly I feel safe here ({i}).")
        stages.append(relationship_get(user=user, persona=persona).stage)
    # Never skips a stage, and a stage only changes after the condition held for a while.
    order = [s.name for s in DEFAULT_STAGES]
    seen = list(dict.fromkeys(stages))
    assert seen == order[: len(seen)] and len(seen) >= 3
    changes = Milestone.objects.filter(user=user, kind="stage_change").order_by("happened_at")
    assert [c.data["new"] for c in changes] == seen[1:]
    assert changes.first().title == "Became acquaintances"


def test_one_rude_message_does_not_demote_but_opens_a_conflict(play, user, persona):
    for i in range(20):
        play.say(f"Thanks, that's sweet :) ({i})")
    before = relationship_get(user=user, persona=persona).stage
    assert before != "stranger"
    play.say("Shut up, you're useless.")
    assert relationship_get(user=user, persona=persona).stage == before  # hysteresis
    assert _kinds(user, persona)[-1] == "conflict"
    play.say("I'm sorry, I didn't mean it.")
    assert _kinds(user, persona)[-1] == "reconciliation"


def test_sustained_hostility_demotes(play, user, persona):
    for i in range(8):
        play.say(f"Thanks, you're amazing, love talking to you :) ({i})")
    assert relationship_get(user=user, persona=persona).stage == "acquaintance"
    for _ in range(6):
        play.say("Shut up, you're stupid and annoying.")
    state = relationship_get(user=user, persona=persona)
    assert state.stage == "stranger"
    assert Milestone.objects.filter(user=user, kind="stage_change", data__new="stranger").exists()
    assert Milestone.objects.filter(user=user, kind="conflict").count() == 1  # one open conflict, not six


def test_first_shared_event_and_anniversary(play, user, persona):
    start = timezone.now() - timedelta(days=400)
    play.say("Hello!", when=start)
    play.say("Yesterday I adopted a kitten!", when=start + timedelta(days=1))
    play.say("Yesterday I climbed a mountain.", when=start + timedelta(days=2))
    play.say("Hi again.", when=start + timedelta(days=40))
    play.say("Hi again.", when=start + timedelta(days=41))
    play.say("Long time!", when=start + timedelta(days=370))
    kinds = _kinds(user, persona)
    assert kinds.count("first_shared_event") == 1
    assert kinds.count("anniversary") == 2
    titles = [m.title for m in milestones_for_pair(user=user, persona=persona) if m.kind == "anniversary"]
    assert titles == ["One month since you met", "1 year since you met"]


def test_persona_can_configure_its_ladder(play, user, persona):
    persona.extensions = {"companion": {"relationship_stages": [
        "rival", {"name": "ally", "min_exchanges": 2, "affinity": 0.0, "trust": 0.0}, "sworn_friend"]}}
    persona.save()
    assert [s.name for s in stages_for(persona)] == ["rival", "ally", "sworn_friend"]
    play.say("hi")
    assert relationship_get(user=user, persona=persona).stage == "rival"
    for _ in range(4):
        play.say("hello")
    assert relationship_get(user=user, persona=persona).stage == "ally"


def test_bad_ladder_config_falls_back_to_default(persona):
    persona.extensions = {"companion": {"relationship_stages": [{"name": "a", "affinity": "lots"}, 5]}}
    assert stages_for(persona) == DEFAULT_STAGES
