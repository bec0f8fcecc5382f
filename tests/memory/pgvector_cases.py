"""Recall on PostgreSQL, with and without pgvector. Not collected by itself (no test_ prefix):
``test_dense_pgvector.py`` runs this file in a child pytest whose DATABASE_URL is the bundled
pgserver PostgreSQL (COMPANION_PG_CASES=pgvector) or a PostgreSQL without the extension
(COMPANION_PG_CASES=plain), since the suite's own database is chosen when Django starts."""

from __future__ import annotations

import os

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext

from companion.memory import dense_pgvector, embeddings
from companion.memory.models import Memory
from companion.memory.recall_index import pair_index
from companion.memory.selectors import memories_recall
from companion.memory.services import memory_create, memory_delete, memory_update
from personas.models import Persona

pytestmark = pytest.mark.django_db
CASES = os.environ.get("COMPANION_PG_CASES", "")

FACTS = [
    "Alice has a dog named Biscuit, a little beagle.",
    "Alice works as a nurse, mostly night shifts.",
    "Alice's sister Jo lives in Reykjavik.",
    "Alice plays the cello in a community orchestra.",
    "Alice is training for the Leeds half marathon in October.",
    "Alice's favourite book is Dune.",
    "Alice is allergic to peanuts.",
    "Alice bought a blue bicycle last spring.",
    "Alice's mother grows tomatoes in her greenhouse.",
    "Alice wants to visit Lisbon next summer.",
]
QUESTIONS = [
    "What is my dog called?",
    "What do I do for work?",
    "Where does my sister live?",
    "What instrument do I play?",
    "What race am I training for?",
    "What is my favourite book?",
    "What am I allergic to?",
    "What did I buy last spring?",
    "What does my mother grow?",
    "Where do I want to travel?",
]
SUBJECTS = [
    "dog",
    "sister",
    "job",
    "garden",
    "bike",
    "piano",
    "flat",
    "boss",
    "trip",
    "exam",
    "cat",
    "novel",
    "marathon",
    "kitchen",
    "band",
    "car",
    "friend",
    "mother",
    "neighbour",
    "holiday",
]
VERBS = [
    "loves",
    "worries about",
    "talked about",
    "is proud of",
    "wants to change",
    "misses",
    "fixed",
    "dreams about",
    "argued about",
    "bought something for",
]
PLACES = [
    "in Leeds",
    "in Lisbon",
    "at work",
    "last summer",
    "on Sundays",
    "near the river",
    "every morning",
    "since 2019",
    "with friends",
    "after school",
    "in the evening",
    "during the storm",
]


def distractors(n: int) -> list[str]:
    """Sentences about the same subjects that answer none of the questions (more than the 200 dense
    candidates, so which items pgvector picks matters)."""
    rng = np.random.default_rng(3)
    return [
        f"Alice {VERBS[rng.integers(len(VERBS))]} her {SUBJECTS[rng.integers(len(SUBJECTS))]} "
        f"{PLACES[rng.integers(len(PLACES))]} ({i})."
        for i in range(n)
    ]


def fill(user, persona, texts: list[str]) -> list[Memory]:
    vecs = embeddings.embed(texts)
    return [memory_create(user=user, persona=persona, text=t, vector=v) for t, v in zip(texts, vecs, strict=True)]


def top_ids(settings, backend: str, user, persona, question: str, k: int = 5) -> list[int]:
    settings.MEMORY_DENSE_BACKEND = backend
    return [r.memory.pk for r in memories_recall(user=user, persona=persona, query=question, k=k)]


@pytest.fixture
def with_pgvector(settings):
    if CASES != "pgvector":
        pytest.skip("run by test_dense_pgvector.py against the bundled PostgreSQL with pgvector")
    dense_pgvector.reset()
    assert connection.vendor == "postgresql" and dense_pgvector.pgvector_ready(), "migration 0005 added no column"
    settings.MEMORY_DENSE_BACKEND = "pgvector"


@pytest.fixture
def without_pgvector(settings):
    if CASES != "plain":
        pytest.skip("run by test_dense_pgvector.py against a PostgreSQL without pgvector")
    dense_pgvector.reset()
    assert connection.vendor == "postgresql"


def test_same_recall_as_numpy_with_distractors(with_pgvector, settings, user, persona):
    facts = fill(user, persona, FACTS + distractors(300))[: len(FACTS)]
    with CaptureQueriesContext(connection) as queries:
        on_pg = {q: top_ids(settings, "pgvector", user, persona, q) for q in QUESTIONS}
    assert sum("<=>" in q["sql"] for q in queries.captured_queries) >= len(QUESTIONS)  # pgvector really ran
    on_numpy = {q: top_ids(settings, "numpy", user, persona, q) for q in QUESTIONS}
    assert on_pg == on_numpy
    for fact, question in zip(facts, QUESTIONS, strict=True):  # and what the user asked about comes first
        assert on_pg[question][0] == fact.pk, (question, Memory.objects.get(pk=on_pg[question][0]).text)


def test_generated_vector_is_the_stored_bytes(with_pgvector, user, persona):
    memory = fill(user, persona, ["Alice's sister Jo lives in Reykjavik."])[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT embedding_vector::text FROM memory_memory WHERE id = %s", [memory.pk])
        text = cursor.fetchone()[0]
    stored = np.frombuffer(bytes(Memory.objects.get(pk=memory.pk).embedding), dtype="<f4")
    assert np.array_equal(np.array(text.strip("[]").split(","), dtype=np.float32), stored)


def test_another_users_items_never_come_back(with_pgvector, settings, user, other_user, persona):
    fill(user, persona, FACTS + distractors(250))
    # Closer to the question than anything of Alice's: Bob's dog, and Alice's own with another persona.
    bob_dog = fill(other_user, persona, ["My dog is called Rex."])[0]
    other_persona = Persona.objects.create(name="Noor", description="{{char}} runs a bakery.")
    alice_elsewhere = fill(user, other_persona, ["My dog is called Pepper."])[0]
    question = "What is my dog called?"
    with connection.cursor() as cursor:  # unscoped, the nearest rows are the other pairs' items
        cursor.execute(
            "SELECT id FROM memory_memory ORDER BY embedding_vector <=> %s::vector LIMIT 2",
            [dense_pgvector._literal(embeddings.embed_one(question))],
        )
        assert {row[0] for row in cursor.fetchall()} == {bob_dog.pk, alice_elsewhere.pk}
    index = pair_index(user.pk, persona.pk)
    rows = dense_pgvector.candidate_rows(index, [embeddings.embed_one(question)], n=200)
    assert rows is not None and rows.size == 200
    assert set(Memory.objects.filter(pk__in=index.ids[rows].tolist()).values_list("user_id", "persona_id")) == {
        (user.pk, persona.pk)
    }
    # Every item here is a fact: asking for turns only, pgvector finds none.
    assert dense_pgvector.candidate_rows(index, [embeddings.embed_one(question)], n=200, layers=["episodic"]).size == 0
    found = top_ids(settings, "pgvector", user, persona, question, k=8)
    assert bob_dog.pk not in found and alice_elsewhere.pk not in found
    assert "Biscuit" in Memory.objects.get(pk=found[0]).text
    assert top_ids(settings, "pgvector", other_user, persona, question, k=8) == [bob_dog.pk]


def test_edits_and_deletes_are_what_recall_sees(with_pgvector, settings, user, persona):
    items = fill(user, persona, FACTS + distractors(250))
    sister = items[2]
    assert top_ids(settings, "pgvector", user, persona, "Where does my sister live?")[0] == sister.pk
    memory_update(memory=sister, text="Alice's sister Jo moved to Montreal for a new job.", by_user=True)
    question = "Which city did my sister move to?"
    assert top_ids(settings, "pgvector", user, persona, question)[0] == sister.pk
    with connection.cursor() as cursor:  # the vector column followed the edit
        cursor.execute(
            "SELECT id FROM memory_memory ORDER BY embedding_vector <=> %s::vector LIMIT 1",
            [dense_pgvector._literal(embeddings.embed_one(sister.text))],
        )
        assert cursor.fetchone()[0] == sister.pk
    dog = items[0]
    memory_delete(memory=dog)
    found = top_ids(settings, "pgvector", user, persona, "What is my dog called?", k=8)
    assert dog.pk not in found
    assert top_ids(settings, "numpy", user, persona, "What is my dog called?", k=8) == found


def test_without_the_extension_numpy_ranks(without_pgvector, settings, user, persona):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
        assert cursor.fetchone() is None
    assert not dense_pgvector.pgvector_ready()
    fill(user, persona, FACTS)
    for setting in ("auto", "numpy"):
        settings.MEMORY_DENSE_BACKEND = setting
        assert dense_pgvector.backend() == "numpy"
        with CaptureQueriesContext(connection) as queries:
            found = memories_recall(user=user, persona=persona, query="What is my dog called?", k=3)
        assert "Biscuit" in found[0].memory.text
        assert not any("<=>" in q["sql"] for q in queries.captured_queries)
    settings.MEMORY_DENSE_BACKEND = "pgvector"
    with pytest.raises(ImproperlyConfigured, match="vector extension"):
        memories_recall(user=user, persona=persona, query="What is my dog called?", k=3)


def test_a_failing_query_falls_back_to_numpy(with_pgvector, settings, user, persona, monkeypatch, caplog):
    fill(user, persona, FACTS + distractors(250))
    expected = top_ids(settings, "numpy", user, persona, "What is my dog called?")
    monkeypatch.setattr(dense_pgvector, "COLUMN", "no_such_column")  # the query now fails in the database
    assert top_ids(settings, "pgvector", user, persona, "What is my dog called?") == expected
    assert "numpy scan for this query" in caplog.text
    assert Memory.objects.filter(user=user).count() == len(FACTS) + 250  # the transaction still works
