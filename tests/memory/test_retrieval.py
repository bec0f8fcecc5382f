"""Hybrid retrieval with the real MiniLM embeddings."""

from __future__ import annotations

from datetime import timedelta

import pytest

from companion.memory.models import Memory
from companion.memory.selectors import memories_recall
from companion.memory.services import memory_create, memory_delete

pytestmark = pytest.mark.django_db

SMALL_TALK = [
    ("How was your day?", "Quiet, the sea was calm."),
    ("It's raining again here.", "The gulls hate the rain too."),
    ("What are you reading?", "An old logbook from 1902."),
    ("Haha, that's funny.", "I try."),
    ("Did you eat already?", "Just soup."),
    ("The bus was late this morning.", "Buses are a mystery to me."),
    ("Tell me about the storm last week.", "Waves over the gallery rail."),
    ("Do you ever get lonely out there?", "Sometimes, at night."),
]


def test_fact_from_200_turns_back_is_recalled(play, user, persona):
    play.say("By the way, I have a dog named Biscuit, a little beagle.")
    play.say("I work as a nurse, night shifts mostly.")
    for i in range(200):
        text, reply = SMALL_TALK[i % len(SMALL_TALK)]
        play.say(f"{text} ({i})" if i % 3 == 0 else text, reply)
    play.say("I love green tea.")
    play.say("I live in Leeds.")

    found = memories_recall(user=user, persona=persona, query="What's the name of my pet?", k=3)
    assert found, "nothing recalled"
    assert "Biscuit" in found[0].memory.text  # the fact "Alice has a dog named Biscuit." or its turn
    # "my pet" is Alice's: the question is about her, so who said it is a part too.
    assert set(found[0].parts) == {"dense", "bm25", "recency", "importance", "speaker"}
    assert found[0].parts["speaker"] == 1.0
    # The dog memory is the oldest one, yet it wins on meaning.
    assert found[0].memory.created_at == min(Memory.objects.filter(user=user).values_list("created_at", flat=True))

    job = memories_recall(user=user, persona=persona, query="what do I do for a living", k=1)
    assert "nurse" in job[0].memory.text


def test_lexical_match_helps_rare_words(user, persona):
    memory_create(user=user, persona=persona, text="The user's sister lives in Reykjavik.")
    memory_create(user=user, persona=persona, text="The user enjoys long walks by the sea.")
    found = memories_recall(user=user, persona=persona, query="Reykjavik", k=2)
    assert found[0].memory.text == "The user's sister lives in Reykjavik."
    assert found[0].parts["bm25"] == 1.0
    assert found[1].parts["bm25"] == 0.0


def test_recency_and_importance_break_ties(user, persona):
    from django.utils import timezone

    old = memory_create(user=user, persona=persona, text="The user went to a concert.",
                        created_at=timezone.now() - timedelta(days=300), importance=0.5)
    new = memory_create(user=user, persona=persona, text="The user went to a concert.",
                        created_at=timezone.now(), importance=0.5)
    found = memories_recall(user=user, persona=persona, query="concert", k=2)
    assert [r.memory.pk for r in found] == [new.pk, old.pk]
    assert found[0].parts["recency"] > found[1].parts["recency"]


def test_index_follows_adds_edits_and_deletes(user, persona):
    first = memory_create(user=user, persona=persona, text="The user plays the cello.")
    assert memories_recall(user=user, persona=persona, query="music instrument", k=5)[0].memory.pk == first.pk
    memory_delete(memory=first)
    assert memories_recall(user=user, persona=persona, query="music instrument", k=5) == []
    second = memory_create(user=user, persona=persona, text="The user plays the violin.")
    assert [r.memory.pk for r in memories_recall(user=user, persona=persona, query="violin", k=5)] == [second.pk]


def test_recall_is_private_to_the_pair(user, other_user, persona):
    from personas.models import Persona

    memory_create(user=user, persona=persona, text="The user's password hint is 'blue whale'.")
    other_persona = Persona.objects.create(name="Juno")
    assert memories_recall(user=other_user, persona=persona, query="password hint", k=5) == []
    assert memories_recall(user=user, persona=other_persona, query="password hint", k=5) == []
    assert len(memories_recall(user=user, persona=persona, query="password hint", k=5)) == 1


def test_deleting_a_conversation_deletes_its_memories(play, user, persona, conversation):
    play.say("My name is Sam.")
    assert Memory.objects.filter(user=user, layer="semantic").count() == 1
    assert Memory.objects.filter(user=user, layer="episodic").count() == 2  # both turns
    conversation.delete()
    assert Memory.objects.filter(user=user).count() == 0
    assert memories_recall(user=user, persona=persona, query="name", k=5) == []


def _lucene_bm25(corpus: list[list[str]], query: list[str], k1: float = 1.5, b: float = 0.75) -> list[float]:
    """Reference Okapi BM25 with Lucene's idf, straight from the formula."""
    import math

    n = len(corpus)
    avgdl = sum(len(d) for d in corpus) / n
    out = []
    for doc in corpus:
        score = 0.0
        for term in query:
            df = sum(1 for d in corpus if term in d)
            if not df:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            tf = doc.count(term)
            score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(doc) / avgdl))
        out.append(score)
    return out


def test_bm25_is_lucene_okapi_up_to_a_constant():
    """The sparse bm25s scores equal the textbook formula (Lucene idf) up to BM25's (k1 + 1) factor,
    which the normalisation by the best candidate cancels."""
    from companion.memory.recall_index import BM25_K1, bm25_build, bm25_scores, tokenize

    docs = [
        "The user's sister lives in Reykjavik.",
        "The user enjoys long walks by the sea, the sea calms them.",
        "The user has a dog named Biscuit; the dog loves the sea.",
        "The user works night shifts as a nurse.",
        "",
    ]
    corpus = [tokenize(d) or ["_"] for d in docs]
    model = bm25_build([tokenize(d) for d in docs])
    for query in ["sea dog", "Reykjavik", "walks walks sea", "nurse sister", "nothing matches here"]:
        q = tokenize(query)
        got = bm25_scores(model, q)
        want = _lucene_bm25(corpus, q)
        assert got.shape == (len(docs),)
        assert got.tolist() == pytest.approx([w / (BM25_K1 + 1) for w in want], rel=1e-5, abs=1e-7)


def test_exact_match_counts_in_a_tiny_collection(user, persona):
    """Robertson's idf is 0 for a word in half the corpus; with Lucene's a match still wins."""
    memory_create(user=user, persona=persona, text="The user plays chess on Sundays.")
    memory_create(user=user, persona=persona, text="The user likes chess openings.")
    memory_create(user=user, persona=persona, text="The user bakes bread.")
    memory_create(user=user, persona=persona, text="The user swims.")
    found = memories_recall(user=user, persona=persona, query="chess", k=4)
    chess = [r for r in found if "chess" in r.memory.text]
    others = [r for r in found if "chess" not in r.memory.text]
    assert len(chess) == 2 and max(r.parts["bm25"] for r in chess) == 1.0
    assert all(r.parts["bm25"] > 0 for r in chess)
    assert all(r.parts["bm25"] == 0.0 for r in others)


def test_dense_part_is_the_cosine_of_the_stored_vectors(user, persona):
    import numpy as np

    from companion.memory import embeddings

    memory = memory_create(user=user, persona=persona, text="The user grows tomatoes on the balcony.")
    found = memories_recall(user=user, persona=persona, query="gardening at home", k=1)
    stored = embeddings.from_bytes(Memory.objects.get(pk=memory.pk).embedding)
    expected = float(np.clip(stored @ embeddings.embed_one("gardening at home"), 0, 1))
    assert found[0].parts["dense"] == pytest.approx(expected, abs=1e-4)


def test_the_ivf_stage_at_scale_finds_what_the_full_scan_finds():
    """Above IVF_MIN_ROWS the dense stage probes the nearest clusters only; a stored item's own vector
    (a little noise added) must still come first, and a word match outside the probed clusters counts."""
    import numpy as np

    from companion.memory import recall_index, retrieval

    rng = np.random.default_rng(1)
    n = recall_index.IVF_MIN_ROWS + 5000
    centres = rng.normal(size=(60, 384)).astype(np.float32)
    matrix = centres[rng.integers(0, 60, n)] + 0.3 * rng.normal(size=(n, 384)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    texts = [f"note {i}" for i in range(n)]
    texts[123] = "the lighthouse keeper's zanzibar story"
    index = recall_index.PairIndex(
        version=1, ids=np.arange(1, n + 1), matrix=matrix, created=np.full(n, 1.7e9),
        importance=np.zeros(n, np.float32),
        bm25=recall_index.bm25_build([recall_index.tokenize(t) for t in texts]), layers=np.ones(n, np.int8),
        anchors=np.arange(1, n + 1), ended=np.full(n, 1.7e9), texts=texts,
        **dict(zip(("centroids", "members"), recall_index.ivf_build(matrix), strict=True)),
    )
    for row in (7, 9_999, n - 1):
        query = matrix[row] + 0.05 * rng.normal(size=384).astype(np.float32)
        query /= np.linalg.norm(query)
        assert retrieval.rank(index, query="", query_vec=query, k=3)[0].memory_id == row + 1
    elsewhere = rng.normal(size=384).astype(np.float32)
    found = retrieval.rank(index, query="zanzibar", query_vec=elsewhere / np.linalg.norm(elsewhere), k=5)
    assert found[0].memory_id == 124 and found[0].parts["bm25"] == 1.0


def test_a_prompt_build_never_runs_the_encoder_and_ranks_by_words_when_the_warm_up_missed(
    user, persona, monkeypatch
):
    from companion.memory import embeddings
    from companion.memory.retrieval import query_warm

    memory_create(user=user, persona=persona, text="The user's sister lives in Reykjavik.")
    memory_create(user=user, persona=persona, text="The user enjoys long walks by the sea.")
    embeddings.query_cache_clear()

    def no_encoder(*args, **kwargs):
        raise AssertionError("the encoder ran where it must not (the shared DB thread)")

    monkeypatch.setattr(embeddings, "embed", no_encoder)
    # Cold (the reply's warm-up did not finish in time): found by its words, no vector.
    cold = memories_recall(user=user, persona=persona, query="Where does my sister live, Reykjavik?", k=2,
                           cached_vectors_only=True)
    assert cold[0].memory.text == "The user's sister lives in Reykjavik."
    assert cold[0].parts["dense"] == 0.0 and cold[0].parts["bm25"] > 0
    # Warm: the warm-up's vectors are used, still without running the encoder on this path.
    monkeypatch.undo()
    query_warm("Where does my sister live?")
    monkeypatch.setattr(embeddings, "embed", no_encoder)
    warm = memories_recall(user=user, persona=persona, query="Where does my sister live?", k=2,
                           cached_vectors_only=True)
    assert warm[0].memory.text == "The user's sister lives in Reykjavik."
    assert warm[0].parts["dense"] > 0


@pytest.mark.parametrize(
    ("question", "listing"),
    [
        ("What activities has Mira done with her family?", True),
        ("Which cities has Ada visited?", True),
        ("In what ways is Ada helping at the shelter?", True),
        ("What kind of books does Mira have in her library?", True),
        ("What is Ada's job?", False),
        ("What does Mira say about the storm?", False),
        ("What was Ada's favourite song?", False),
        ("When did Mira go to the bakery?", False),
    ],
)
def test_a_question_asking_for_several_things_is_told_apart(question, listing):
    # Such a question is also ranked without its plural noun (query.plan).
    from companion.memory.query import list_question

    assert list_question(question) is listing


def test_a_list_question_is_also_asked_without_its_plural_noun():
    # The answers name instances ("we went camping"), never "activities".
    from companion.memory.query import plan

    assert plan("What activities has Mira done with her family?", reference=None).parts == [
        "What activities has Mira done with her family?",
        "What has Mira done with her family?",
    ]
    ways = plan("In what ways is Ada helping at the shelter?", reference=None)
    assert ways.parts[1] == "How is Ada helping at the shelter?"
    assert plan("What is Ada's job?", reference=None).parts == ["What is Ada's job?"]


@pytest.mark.parametrize("k", [1, 2, 3])
def test_the_best_answer_keeps_its_place_at_any_k(user, persona, k):
    # A named person in the best result is looked up as a second hop ("Jo" below); with one slot,
    # that hop must not push out the answer itself.
    memory_create(user=user, persona=persona, text="Alice has a dog named Biscuit, a little beagle.")
    memory_create(user=user, persona=persona, text="Alice's sister Jo lives in Reykjavik.")
    memory_create(user=user, persona=persona, text="Jo walks Biscuit when Alice works nights.")
    found = memories_recall(user=user, persona=persona, query="What is my dog called?", k=k)
    assert len(found) == k
    assert "Biscuit, a little beagle" in found[0].memory.text
