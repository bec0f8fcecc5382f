"""import_chat / export_chat / recall, and the exchange_completed → actor path."""

from __future__ import annotations

import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from companion.chat.models import Conversation, Message
from companion.memory.models import Memory, Milestone, RelationshipState

pytestmark = pytest.mark.django_db

HEADER = {"user_name": "Sam", "character_name": "Mira", "create_date": "2024-01-05@15h04m12s",
          "chat_metadata": {"note_prompt": "", "tainted": False}}
LINES = [
    {"name": "Mira", "is_user": False, "send_date": "January 5, 2024 3:04pm", "mes": "Evening. Tea?",
     "extra": {"gen_id": 123, "api": "kobold"}, "swipes": ["Evening. Tea?", "Hello."], "swipe_id": 0},
    {"name": "Sam", "is_user": True, "send_date": "January 5, 2024 3:05pm",
     "mes": "My name is Sam and I have a dog named Biscuit.", "extra": {}},
    {"name": "Mira", "is_user": False, "send_date": "January 5, 2024 3:05pm", "mes": "A fine name for a dog.",
     "extra": {"gen_id": 124, "token_count": 7}},
    {"name": "Sam", "is_user": True, "send_date": "2024-01-06T10:00:00+00:00", "mes": "I love green tea."},
    {"name": "Mira", "is_user": False, "is_system": False, "send_date": "2024-01-06T10:00:05+00:00",
     "mes": "Then tea it is."},
]


def _write(tmp_path, *, malformed: bool) -> str:
    rows = [json.dumps(HEADER)] + [json.dumps(x) for x in LINES]
    if malformed:
        rows.insert(3, "{this is not json")
        rows.insert(5, json.dumps({"name": "Sam", "is_user": "yes", "mes": "bad flag"}))
        rows.insert(6, json.dumps(["not", "an", "object"]))
    path = tmp_path / "chat.jsonl"
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def _import(path, user, persona):
    out, err = StringIO(), StringIO()
    call_command("import_chat", path, persona=persona.slug, user=user.username, no_progress=True,
                 stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_builds_memory_and_reports_bad_lines(tmp_path, user, persona):
    out, err = _import(_write(tmp_path, malformed=True), user, persona)
    assert "line 4: skipped: invalid JSON" in err
    assert "line 6: skipped: 'is_user' is not true/false" in err
    assert "line 7: skipped: not a JSON object" in err
    assert "Imported 5 messages" in out and "3 lines skipped" in out
    conversation = Conversation.objects.get(owner=user)
    messages = list(conversation.messages.order_by("seq"))
    assert [m.role for m in messages] == ["persona", "user", "persona", "user", "persona"]
    assert messages[0].extra["st_extra"] == {"gen_id": 123, "api": "kobold"}
    assert messages[0].created_at.date().isoformat() == "2024-01-05"
    # Facts name the speaker as the file does ("Sam"), not "The user".
    assert sorted(Memory.objects.filter(user=user, layer="semantic").values_list("text", flat=True)) == [
        "Sam has a dog named Biscuit.", "Sam loves green tea.", "The user's name is Sam."]
    memory = Memory.objects.get(text="Sam has a dog named Biscuit.")
    assert memory.created_at.date().isoformat() == "2024-01-05"  # dated like the original message
    # Every turn of both speakers is recallable, under the name in the file and at its original date.
    turns = Memory.objects.filter(user=user, layer="episodic").order_by("created_at")
    # (a turn that answers the other's question carries it)
    assert [t.text for t in turns][:2] == ["Mira: Evening. Tea?",
                                           'Sam (to Mira\'s "Tea?"): My name is Sam and I have a dog named Biscuit.']
    assert [t.created_at.date().isoformat() for t in turns] == ["2024-01-05"] * 3 + ["2024-01-06"] * 2
    assert RelationshipState.objects.get(user=user).exchanges == 2
    assert Milestone.objects.filter(user=user, kind="first_meeting").exists()


def test_round_trip(tmp_path, user, persona):
    src = _write(tmp_path, malformed=False)
    _import(src, user, persona)
    conversation = Conversation.objects.get(owner=user)
    dst = tmp_path / "out.jsonl"
    call_command("export_chat", conversation.pk, output=str(dst), stderr=StringIO())
    original = [json.loads(x) for x in open(src)]
    exported = [json.loads(x) for x in open(dst)]
    assert exported == original


def test_export_of_a_live_conversation(conversation, play):
    play.say("hello there", "hi!")
    out = StringIO()
    call_command("export_chat", conversation.pk, stdout=out)
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert lines[0]["character_name"] == "Mira" and lines[0]["user_name"] == "Alice"
    assert [(x["name"], x["is_user"], x["mes"]) for x in lines[1:]] == [
        ("Alice", True, "hello there"), ("Mira", False, "hi!")]


def test_recall_json_format(tmp_path, user, persona):
    _import(_write(tmp_path, malformed=False), user, persona)
    conversation = Conversation.objects.get(owner=user)
    out = StringIO()
    call_command("recall", conversation.pk, "what is my pet called", k=2, as_json=True, stdout=out)
    data = json.loads(out.getvalue())
    assert data["query"] == "what is my pet called" and len(data["results"]) == 2
    # The same structure as the REST recall view.
    assert set(data) == {"conversation_id", "query", "k", "plan", "results"}
    top = data["results"][0]
    assert top["rank"] == 1 and top["layer"] in ("semantic", "episodic")
    assert "Biscuit" in top["memory"]["text"]
    # "my pet" is Sam's: the question names the user, so who said it counts too.
    assert set(top["parts"]) == {"dense", "bm25", "recency", "importance", "speaker"}
    assert top["score"] >= data["results"][1]["score"]
    source = top["memory"]["sources"][0]
    assert source["content"] == "My name is Sam and I have a dog named Biscuit."
    assert source["role"] == "user" and source["speaker"] == "Sam" and source["created_at"].startswith("2024-01-05")
    assert source["extra"] == {}  # the original (empty) extra object, verbatim
    # The reply is recalled with the turn it answers (both are its sources), each with its own extra.
    reply = next(r for r in data["results"] if r["memory"]["speaker"] == "Mira")
    sources = {s["role"]: s for s in reply["memory"]["sources"]}
    assert sources["persona"]["content"] == "A fine name for a dog."
    assert sources["persona"]["extra"] == {"gen_id": 124, "token_count": 7}
    assert sources["user"]["content"] == "My name is Sam and I have a dog named Biscuit."


def test_import_errors(tmp_path, user, persona):
    with pytest.raises(CommandError):
        call_command("import_chat", str(tmp_path / "missing.jsonl"), persona=persona.slug, user=user.username)
    with pytest.raises(CommandError):
        call_command("import_chat", _write(tmp_path, malformed=False), persona="nope", user=user.username)


def test_exchange_completed_enqueues_the_actor(conversation, play, user, django_capture_on_commit_callbacks):
    import dramatiq

    from companion.chat.signals import exchange_completed
    from companion.memory.tasks import process_exchange

    broker = dramatiq.get_broker()
    broker.flush_all()
    um, _ = play.say("My name is Sam.", process=False)
    reply = conversation.messages.get(seq=um.seq + 1)
    with django_capture_on_commit_callbacks(execute=True):
        exchange_completed.send(sender=Message, conversation=conversation, user_message=um, reply_message=reply)
    queued = broker.queues["default"].qsize()
    assert queued == 1
    # Run it the way a worker would (same actor function, same arguments).
    message = broker.queues["default"].get_nowait()
    broker.queues["default"].task_done()  # taken off the queue for good, as a worker's ack would
    decoded = dramatiq.Message.decode(message)
    assert decoded.actor_name == process_exchange.actor_name
    process_exchange.fn(*decoded.args)
    assert Memory.objects.get(user=user, layer="semantic").text == "The user's name is Sam."


def test_a_long_import_is_stored_in_a_few_queries_with_its_dates_and_order(user, persona,
                                                                          django_assert_max_num_queries):
    from companion.chat.services import message_create
    from companion.memory.importer import messages_store
    from companion.memory.sillytavern import parse_chat

    lines = [json.dumps(HEADER)] + [
        json.dumps({"name": "Sam" if i % 2 == 0 else "Mira", "is_user": i % 2 == 0,
                    "send_date": f"2023-05-{1 + i // 100:02d}T10:{(i // 2) % 60:02d}:00+00:00",
                    "mes": f"line {i}", "extra": {"i": i}})
        for i in range(300)
    ] + [json.dumps({"name": "Mira", "is_user": False, "send_date": "not a date", "mes": "undated"})]
    conversation = Conversation.objects.create(owner=user, persona=persona)
    with django_assert_max_num_queries(20):  # a few batched inserts (SQLite: ~50 rows each), not 3 per line
        messages_store(conversation=conversation, chat=parse_chat(lines))
    rows = list(conversation.messages.order_by("seq"))
    assert [m.seq for m in rows] == list(range(1, 302))
    assert [m.extra["st_extra"]["i"] for m in rows[:300]] == list(range(300))
    assert [m.role for m in rows[:2]] == ["user", "persona"]
    assert rows[0].created_at.isoformat() == "2023-05-01T10:00:00+00:00"
    assert rows[299].created_at.isoformat() == "2023-05-03T10:29:00+00:00"
    assert (rows[300].created_at - rows[299].created_at).total_seconds() == 1  # undated: after its predecessor
    # The conversation's counter moved with them: a live message continues the sequence.
    live = message_create(conversation=conversation, role="user", kind="text", content="hello again",
                          status="complete")
    assert live.seq == 302


def test_an_import_is_usable_by_words_before_its_second_phase(tmp_path, user, persona):
    """chat_import(finish=False) returns with the turns and facts stored; import_finish adds the turns'
    vectors (the same ones the live path embeds, the question a reply answers included), the replayed
    exchanges and the sessions, and does nothing when run again."""
    from companion.memory import embeddings
    from companion.memory.importer import chat_import, import_finish
    from companion.memory.indexing import episode_dense
    from companion.memory.selectors import memories_recall
    from companion.memory.sillytavern import parse_chat

    talk = [(True, "We adopted a retired greyhound from the shelter, her name is Clover."),
            (False, "Clover! I love that. What does she like to eat?"),
            (True, "Mostly carrots, believe it or not."),
            (False, "I started learning the cello last month."),
            (True, "Ok.")]
    lines = [json.dumps(HEADER)] + [
        json.dumps({"name": "Sam" if u else "Mira", "is_user": u, "send_date": f"2023-05-08T13:{10 + i:02d}:00+00:00",
                    "mes": text}) for i, (u, text) in enumerate(talk)]
    result = chat_import(chat=parse_chat(lines), user=user, persona=persona, finish=False)
    turns = Memory.objects.filter(conversation=result.conversation, layer="episodic").select_related("message")
    assert turns.count() == 5 and not turns.filter(embedding__isnull=False).exists()
    # Facts already have theirs; a turn is found by its words meanwhile.
    facts = Memory.objects.filter(conversation=result.conversation, layer="semantic")
    assert facts.exists() and not facts.filter(embedding__isnull=True).exists()
    found = memories_recall(user=user, persona=persona, query="greyhound shelter", k=1, layers=["episodic"])
    assert "greyhound" in found[0].memory.text and found[0].parts["dense"] == 0.0

    assert not RelationshipState.objects.filter(user=user).exists()

    finished = import_finish(conversation=result.conversation)
    assert (finished.vectors_filled, finished.sessions) == (5, 1)
    assert RelationshipState.objects.get(user=user).exchanges == 3
    again = import_finish(conversation=result.conversation)  # nothing left to do
    assert (again.vectors_filled, again.sessions, again.memories_added) == (0, 0, 0)
    assert RelationshipState.objects.get(user=user).exchanges == 3
    by_text = {m.message.content: m for m in turns.all()}
    carrots = by_text["Mostly carrots, believe it or not."]
    asked = episode_dense(carrots.message, by_text["Clover! I love that. What does she like to eat?"].message)
    assert asked.startswith("What does she like to eat?")  # the question it answers is embedded with it
    assert np.allclose(carrots.vector(), embeddings.embed([asked])[0], atol=1e-5)
    assert not by_text["Ok."].vector().any()  # no content word: nothing to find by meaning
    # By meaning now: no word of the question is in the turn.
    found = memories_recall(user=user, persona=persona, query="Which instrument is Mira studying?", k=1,
                            layers=["episodic"])
    assert "cello" in found[0].memory.text and found[0].parts["dense"] > 0.3


def test_the_second_phase_encodes_each_turn_text_once(user, persona, monkeypatch):
    """A line said again and again, or a turn whose whole text the first phase embedded for its fact,
    goes through the encoder once; every turn still gets the vector of its own text."""
    from companion.memory import embeddings
    from companion.memory.importer import chat_import, import_finish
    from companion.memory.indexing import episode_dense
    from companion.memory.sillytavern import parse_chat

    talk = [(False, "I painted the lighthouse railing white."),
            *[(True, "Work was long today."), (False, "Sleep well.")] * 3]
    lines = [json.dumps(HEADER)] + [
        json.dumps({"name": "Sam" if u else "Mira", "is_user": u, "send_date": f"2023-05-08T13:{10 + i:02d}:00+00:00",
                    "mes": text}) for i, (u, text) in enumerate(talk)]
    encoded: list[str] = []
    real = embeddings.embed

    def counting(texts, **kw):
        encoded.extend(texts)
        return real(texts, **kw)

    monkeypatch.setattr(embeddings, "embed", counting)
    result = chat_import(chat=parse_chat(lines), user=user, persona=persona, finish=False)
    first = list(encoded)
    encoded.clear()
    import_finish(conversation=result.conversation, result=result)
    turns = list(Memory.objects.filter(conversation=result.conversation, layer="episodic").select_related("message")
                 .order_by("message__seq"))
    texts = [episode_dense(t.message, turns[i - 1].message if i else None) for i, t in enumerate(turns)]
    assert texts[0] in first  # the first turn says just what its fact says: embedded by the first phase
    assert len(set(texts)) < len(texts)  # and the same exchange comes back
    again = [t for t in encoded if t in texts]  # (the session summary is encoded too)
    assert sorted(again) == sorted(set(texts) - {texts[0]})  # every other text, once
    for turn, text in zip(turns, texts, strict=True):
        assert np.allclose(turn.vector(), real([text])[0], atol=1e-5), text
