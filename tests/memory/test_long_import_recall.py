"""A user who told the persona something months ago, in a long imported chat, gets it back.

Real parts: a 400-turn SillyTavern file over six months goes through ``manage.py import_chat`` (both
phases, the packaged MiniLM), then a new message asks about it and the reply's prompt is built the
way a reply builds it (the query warm-up, then ``prompt_build``). The model's own answer is
measured by bench/chat_quality.py; this checks that what it is given holds the answer, dated.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from companion.chat.models import Conversation
from companion.chat.prompt import prompt_build, prompt_warm
from companion.chat.services import message_create
from companion.memory.models import Memory

pytestmark = pytest.mark.django_db

FILLER_USER = ["haha yes", "Work was long today.", "It's raining again here.", "What are you up to?",
               "I'm so tired today.", "My neighbour moved to Leeds last year.", "I made pasta for dinner.",
               "The bus was late again.", "Anyway, how are you?", "I watched a documentary about bees.",
               "My friend Tom got a new bike.", "I cleaned the whole flat this morning."]
FILLER_PERSONA = ["That sounds lovely.", "Tell me everything.", "Slow day at the lighthouse.",
                  "The lamp kept flickering all evening.", "I'm glad you told me.", "Take it easy tonight, okay?",
                  "The gulls were loud this morning.", "I painted the railing white again."]


def _long_chat(path) -> None:
    rng = random.Random(3)
    day = datetime(2023, 3, 2, 19, 5)
    lines = [json.dumps({"user_name": "Sam", "character_name": "Mira", "create_date": "2023-03-02@19h05m00s"})]
    told = {1: [(True, "My uncle Dmitri just moved to Galway, I miss him already."),
                (False, "Galway! Tell him the sea there is wonderful.")],
            3: [(False, "You should try the novel The Left Hand of Darkness. Trust me on this one."),
                (True, "Okay, I'll look for it.")]}
    for session in range(20):
        turns = told.get(session, [])
        body = [(i % 2 == 0, rng.choice(FILLER_USER if i % 2 == 0 else FILLER_PERSONA)) for i in range(20)]
        at = rng.randrange(2, 16)
        body[at:at] = turns
        for i, (is_user, text) in enumerate(body):
            when = day + timedelta(minutes=2 * i)
            lines.append(json.dumps({
                "name": "Sam" if is_user else "Mira", "is_user": is_user, "mes": text,
                "send_date": when.strftime("%-I:%M %p on %-d %B, %Y").replace("AM", "am").replace("PM", "pm"),
            }))
        day += timedelta(days=9)
    path.write_text("\n".join(lines) + "\n")


def test_months_later_the_prompt_holds_what_was_said(tmp_path, user, persona, scripted_backend):
    path = tmp_path / "long.jsonl"
    _long_chat(path)
    out = StringIO()
    call_command("import_chat", str(path), persona=persona.slug, user=user.username, no_progress=True, stdout=out)
    assert "Imported 404 messages" in out.getvalue() and "404 turns indexed by meaning" in out.getvalue()
    conversation = Conversation.objects.get(owner=user)
    assert not Memory.objects.filter(conversation=conversation, embedding__isnull=True).exists()
    assert Memory.objects.filter(conversation=conversation, layer="session").count() == 20

    # Six months on, in the same conversation: the user asks in their own words.
    for question, answer, said in [
        ("Do you remember where my uncle moved to?", "Galway", "- (2023-03-11"),  # first person, no name
        ("What was that book you told me to read?", "Left Hand of Darkness", "- (2023-03-29"),  # the persona's
    ]:
        message_create(conversation=conversation, role="user", kind="text", content=question, status="complete")
        prompt_warm(question)  # what the reply does first, off the database thread
        build = prompt_build(conversation=conversation, backend=scripted_backend, budget_tokens=4000)
        section = next(s for s in build.sections if s.name == "memories")
        assert section.included
        line = next(ln for ln in build.turns[0].content.splitlines() if answer in ln)
        assert line.startswith(said), line  # dated by when it was said, not by the import
