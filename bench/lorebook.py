"""Lorebook benchmark: prompt assembly with a 200-entry lorebook (target p95 < 10 ms).

A persona with N entries (plain keys, whole-word keys, /regex/ keys, selective
entries with secondary keys, a few constants, some at a depth; recursion on)
and a conversation of 40 turns; each timed build follows a new user message
naming a few of the keys, so entries fire, recurse and meet the token budget.
Timed: ``prompt_build`` with no section providers (memory's own cost is
bench/memory.py), with the lorebook and, as the baseline, without it; and the
activation alone (``lore_for_messages``: rows read and matched).

    .venv/bin/python bench/lorebook.py [--entries 200] [--builds 200]

Throw-away SQLite test database, scripted chat backend (its token counter is a
character estimate; the embedded model's tokenizer adds its own cost to every
section alike). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "companion.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

PLACES = ["harbour", "lighthouse", "Gannet Point", "the mill", "Saltreach", "the ferry", "the chapel", "the quay",
          "the cliffs", "the inn", "the market", "the bridge", "the forge", "the orchard", "the tower", "the well"]


def _entries(n: int, rng: random.Random) -> list[dict]:
    entries = []
    for i in range(n):
        place = f"{rng.choice(PLACES)} {i}"
        kind = i % 10
        fields: dict = {"keys": [place, f"word{i}"], "priority": rng.randint(0, 20), "insertion_order": i}
        if kind == 1:
            fields["whole_words"] = True
        elif kind == 2:
            fields["keys"] = [f"/word{i}(s|es)?\\b/i"]
        elif kind == 3:
            fields.update(selective=True, secondary_keys=["night", "storm"], selective_logic=i % 4)
        elif kind == 4:
            fields.update(position="at_depth", depth=2)
        elif kind == 5:
            fields["position"] = "after_char"
        if i % 50 == 0:
            fields["constant"] = True
        # text that names other entries' keys, so recursion has work to do
        fields["content"] = f"{place} is old. It faces word{(i + 7) % n} across the water. " * 2
        entries.append(fields)
    return entries


def _stats(times: list[float], cpu: list[float]) -> dict[str, float]:
    times, cpu = sorted(times), sorted(cpu)
    return {"p50_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
            "max_ms": round(times[-1], 2), "cpu_p50_ms": round(statistics.median(cpu), 2),
            "cpu_p95_ms": round(cpu[int(0.95 * (len(cpu) - 1))], 2)}


def _timed(fn, runs: int, before=None) -> dict[str, float]:
    """Wall and CPU (this thread's) time of ``fn``; ``before`` runs untimed ahead of each call."""
    times, cpu = [], []
    for _ in range(runs):
        if before is not None:
            before()
        start, start_cpu = time.perf_counter(), time.thread_time()
        fn()
        cpu.append((time.thread_time() - start_cpu) * 1000)
        times.append((time.perf_counter() - start) * 1000)
    return _stats(times, cpu)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=200)
    parser.add_argument("--builds", type=int, default=200)
    args = parser.parse_args()

    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, keepdb=False)

    from companion.chat import prompt as prompt_module
    from companion.chat.lore import lore_for_messages
    from companion.chat.prompt import prompt_build
    from companion.chat.services import conversation_start, message_create
    from companion.llm.scripted import ScriptedBackend
    from personas.models import LoreEntry, Persona

    prompt_module._providers[:] = []  # lore and the card only: memory is timed in bench/memory.py
    rng = random.Random(7)
    user = get_user_model().objects.create_user("bench", first_name="Ada")
    with_book = Persona.objects.create(name="Mira", description="{{char}} keeps the lighthouse.",
                                       character_book={"name": "Saltreach", "recursive_scanning": True})
    LoreEntry.objects.bulk_create(LoreEntry(persona=with_book, **e) for e in _entries(args.entries, rng))
    without = Persona.objects.create(name="Plain", description="{{char}} keeps the lighthouse.")
    conversations = [conversation_start(owner=user, persona=p) for p in (with_book, without)]
    for conversation in conversations:
        for turn in range(40):
            role = "user" if turn % 2 == 0 else "persona"
            message_create(conversation=conversation, role=role, kind="text", status="complete",
                           content=f"Turn {turn}: we talked about the weather and the sea for a while.")
    backend = ScriptedBackend()
    results: dict = {"entries": args.entries, "builds": args.builds, "history_turns": 40,
                     "load_average": os.getloadavg()}

    def say_something(conversation) -> None:
        names = rng.sample(range(args.entries), 3)
        text = "Shall we go to " + ", ".join(f"word{i}" for i in names) + " tonight, in the storm?"
        message_create(conversation=conversation, role="user", kind="text", status="complete", content=text)

    fired = []

    def build(conversation):
        def run() -> None:
            built = prompt_build(conversation=conversation, backend=backend, budget_tokens=1536)
            fired.append(sum(1 for e in built.lore if e["included"]))
        return run

    for name, conversation in (("prompt_build with lorebook", conversations[0]),
                               ("prompt_build without lorebook", conversations[1])):
        say_something(conversation)
        build(conversation)()  # warm caches (parsed books, compiled key patterns)
        fired.clear()
        results[name] = _timed(build(conversation), args.builds, before=lambda c=conversation: say_something(c))
        if fired and name.endswith("with lorebook"):
            results[name]["entries_included_mean"] = round(statistics.mean(fired), 1)

    history = [(m.pk, m.content) for m in conversations[0].messages.order_by("-seq")[:10]]
    results["activation alone (lore_for_messages)"] = _timed(
        lambda: lore_for_messages(conversation=conversations[0], messages=history, count_tokens=backend.count_tokens),
        args.builds,
    )
    results["load_average_after"] = os.getloadavg()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
