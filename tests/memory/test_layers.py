"""The three layers: every turn recallable, facts with names and dates, session summaries, query plans."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from companion.chat.models import Conversation, Message
from companion.chat.services import message_create
from companion.memory import dates, query, semantic
from companion.memory.models import Memory
from companion.memory.pipeline import exchange_process, memory_reprocess_edited, memory_sync_turns
from companion.memory.selectors import memories_recall
from companion.memory.sessions import sessions_update

pytestmark = pytest.mark.django_db

MAY_8 = datetime(2023, 5, 8, 13, 56, tzinfo=timezone.get_default_timezone())


# --- pure parts ---------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("1:56 pm on 8 May, 2023", "2023-05-08 13:56"),
    ("10:37 am on 27 June, 2023", "2023-06-27 10:37"),
    ("January 5, 2024 3:04pm", "2024-01-05 15:04"),
    ("2024-1-5 @15h 04m 05s 123ms", "2024-01-05 15:04"),
    ("2024-01-05T10:00:00+00:00", "2024-01-05 10:00"),
    ("May 8, 2023 13:56", "2023-05-08 13:56"),
    ("8 May 2023", "2023-05-08 12:00"),
    (1700000000000, "2023-11-14 22:13"),
])
def test_import_dates_are_parsed(value, expected):
    assert dates.parse_datetime(value).strftime("%Y-%m-%d %H:%M") == expected


def test_unknown_dates_are_none():
    assert dates.parse_datetime("sometime") is None and dates.parse_datetime("") is None


@pytest.mark.parametrize(("text", "label"), [
    ("I went to the support group yesterday.", "7 May 2023"),
    ("two days ago I ran", "6 May 2023"),
    ("next month I'm moving", "June 2023"),
    ("We went camping last weekend", "the weekend of 6 May 2023"),
    ("in June I will visit", "June 2023"),
])
def test_relative_time_is_resolved_against_when_it_was_said(text, label):
    annotated, spans = dates.annotate(text, anchor=MAY_8)
    assert f"({label})" in annotated and spans


def test_modal_may_is_not_a_month():
    assert dates.relative_spans("this may be fun", anchor=MAY_8) == []


def test_rewrite_names_people_and_agrees_verbs():
    ctx = semantic.Context(speaker="Caroline", addressee="Melanie")
    assert semantic.rewrite("I love painting and you always make me laugh.", ctx) == (
        "Caroline loves painting and Melanie always makes Caroline laugh.")
    ctx = semantic.Context(speaker="Melanie", addressee="Caroline")
    facts = semantic.facts_from_message(
        "Wow, that's awesome! My mom came to visit two days ago. She brought her famous apple pie.",
        speaker="Melanie", addressee="Caroline", when=MAY_8, ctx=ctx)
    assert [f.text for f in facts] == [
        "Melanie's mom came to visit two days ago (6 May 2023).",
        "Melanie's mom brought Melanie's mom's famous apple pie.",
    ]
    assert all(f.kind == "event" for f in facts)


def test_a_pronoun_inside_a_compound_word_stays():
    ctx = semantic.Context(speaker="Melanie", addressee="Caroline")
    assert semantic.rewrite("So I'm carving out some me-time each day.", ctx) == (
        "So Melanie is carving out some me-time each day.")


def test_roleplay_markup_greetings_and_irregular_pasts_make_clean_facts():
    # Seen in the served app: "*Evening's hand tightens on the mug* Mira swores that night…"
    facts = semantic.facts_from_message(
        "*Her hand tightens on the mug.* **The winter of the long tide.** I swore that night that I would keep "
        "this light.", speaker="Mira", addressee="Ally", when=MAY_8, previous="Evening, Ally. The lamp is lit.",
        is_user=False)
    texts = [f.text for f in facts]
    assert "Mira swore that night that Mira would keep this light." in texts
    assert not any("*" in t or "Evening's" in t or "swores" in t for t in texts), texts


def test_small_talk_questions_and_echoes_are_not_facts():
    said = "I went to a support group yesterday."
    assert semantic.facts_from_message("Thanks so much! That sounds amazing.", speaker="A", addressee="B",
                                       when=MAY_8) == []
    assert semantic.facts_from_message("Do you like tea?", speaker="A", addressee="B", when=MAY_8) == []
    assert semantic.facts_from_message(f"You said: {said}", speaker="B", addressee="A", when=MAY_8,
                                       previous=said) == []


def test_query_plan_splits_people_and_clauses_and_finds_time():
    plan = query.plan("What do Caroline and Melanie both like?", reference=MAY_8)
    assert plan.parts[1:] == ["What does Caroline like?", "What does Melanie like?"]
    plan = query.plan("Where did Ada go on holiday and what did she buy there?", reference=MAY_8)
    assert plan.parts[1:] == ["Where did Ada go on holiday", "what did she buy there?"]
    plan = query.plan("What did Ada do last week?", reference=MAY_8)
    assert plan.window.start.date().isoformat() == "2023-05-01"
    plan = query.plan("What did Ada buy two days before the trip to Lisbon?", reference=MAY_8)
    assert plan.anchor == "the trip to Lisbon" and plan.relation == "before" and plan.span_days == 2


# --- the pipeline -------------------------------------------------------------------


def _layer(user, layer):
    return sorted(Memory.objects.filter(user=user, layer=layer).values_list("text", flat=True))


def test_both_speakers_turns_are_episodic_items_and_facts_name_people(play, user):
    play.say("I came across a rainbow sidewalk on my walk today.",
             "I promise I'll paint you a rainbow sidewalk someday.")
    assert _layer(user, "episodic") == [
        "Alice: I came across a rainbow sidewalk on my walk today.",
        # a short reply carries what it answers
        "Mira (to Alice's \"I came across a rainbow sidewalk on my walk today.\"): I promise I'll paint you a "
        "rainbow sidewalk someday.",
    ]
    facts = _layer(user, "semantic")
    assert any(f.startswith("Alice came across a rainbow sidewalk on Alice's walk today (") for f in facts)
    assert "Mira promises Mira will paint Alice a rainbow sidewalk someday." in facts
    found = memories_recall(user=user, persona=play.conversation.persona, query="What did Mira promise?", k=3)
    assert "Mira" in found[0].memory.text and found[0].memory.speaker == "Mira"


def test_a_regenerated_reply_replaces_the_old_one_in_memory(play, user, conversation):
    um, _ = play.say("I adopted a cat named Pixel.", "Pixel is a lovely name.")
    old = conversation.messages.get(seq=um.seq + 1)
    Message.objects.filter(pk=old.pk).update(is_active=False)
    new = message_create(conversation=conversation, role="persona", kind="text", content="A cat! Tell me more.",
                         status="complete", parent=old)
    exchange_process(conversation=conversation, user_message=um, reply_message=new, use_llm=False)
    turns = [t.split("): ", 1)[-1].removeprefix("Mira: ") for t in _layer(user, "episodic")]
    assert "A cat! Tell me more." in turns and "Pixel is a lovely name." not in turns


def test_a_deleted_turn_is_forgotten_and_an_edited_persona_turn_relearnt(play, user, conversation):
    um, _ = play.say("My sister Lena lives in Porto.", "Porto is lovely in spring, I loved the tiles there.")
    reply = conversation.messages.get(seq=um.seq + 1)
    Message.objects.filter(pk=um.pk).update(deleted=True, content="")
    memory_sync_turns(conversation=conversation)
    assert not any("Lena" in t for t in _layer(user, "episodic") + _layer(user, "semantic"))
    reply.content = "I have never been to Porto, I hear the tiles are lovely."
    reply.save(update_fields=["content"])
    memory_reprocess_edited(conversation=conversation, message=reply, use_llm=False)
    turns = _layer(user, "episodic")
    assert turns == ["Mira: I have never been to Porto, I hear the tiles are lovely."]
    assert "Mira has never been to Porto, Mira hears the tiles are lovely." in _layer(user, "semantic")


def _import(tmp_path, user, persona, lines):
    header = {"user_name": "Caroline", "character_name": "Melanie", "create_date": "2023-05-08@13h56m00s"}
    path = tmp_path / "chat.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in [header, *lines]) + "\n")
    call_command("import_chat", str(path), persona=persona.slug, user=user.username, no_progress=True,
                 stdout=StringIO())
    return Conversation.objects.filter(owner=user).latest("pk")


def _session(day: str, start: int, texts: list[tuple[bool, str]]):
    out = []
    for i, (is_user, text) in enumerate(texts):
        out.append({"name": "Caroline" if is_user else "Melanie", "is_user": is_user,
                    "send_date": f"{start}:{10 + i:02d} pm on {day}", "mes": text,
                    "extra": {"dia_id": f"{day}:{i}"}})
    return out


def test_an_imported_old_chat_keeps_its_dates_sessions_and_sources(tmp_path, user, persona):
    first = _session("8 May, 2023", 1, [
        (True, "I went to a LGBTQ support group yesterday and it was so powerful."),
        (False, "That's amazing! My kids and I painted a sunset at the lake last weekend."),
        (True, "I'm researching adoption agencies, I want to be a mom."),
        (False, "You'd be an amazing mom. I'm going to run a charity race next month."),
    ])
    second = _session("25 May, 2023", 7, [
        (True, "I finally got my counseling certificate!"),
        (False, "Congrats! I took the kids to the museum, they loved the dinosaurs."),
        (True, "My friend Jolene gave me a ceramic bowl she made."),
        (False, "I love pottery, I signed up for a class on Tuesdays."),
    ])
    conversation = _import(tmp_path, user, persona, first + second)
    episodes = Memory.objects.filter(conversation=conversation, layer="episodic").order_by("created_at")
    assert episodes.count() == 8
    assert episodes[0].created_at.date().isoformat() == "2023-05-08"  # not "now"
    assert episodes[0].text.startswith("Caroline: I went to a LGBTQ")
    fact = Memory.objects.get(conversation=conversation, layer="semantic", text__contains="support group")
    assert "(7 May 2023)" in fact.text  # "yesterday", resolved against the turn's date
    sessions = list(Memory.objects.filter(conversation=conversation, layer="session").order_by("created_at"))
    assert len(sessions) == 2
    assert sessions[0].text.startswith("Session of 8 May 2023: Caroline and Melanie, 4 turns.")
    assert sessions[1].ended_at.date().isoformat() == "2023-05-25"
    assert sessions[0].source_messages.exists()

    # Recency is counted from the conversation's latest turn, not from today.
    found = memories_recall(user=user, persona=persona, query="counseling certificate", k=3)
    assert found[0].parts["recency"] > 0.9
    # recall --json: layer, source messages with role, date and the file's own extra.
    out = StringIO()
    call_command("recall", conversation.pk, "What did Melanie sign up for?", k=5, as_json=True, stdout=out)
    data = json.loads(out.getvalue())
    top = data["results"][0]
    assert top["memory"]["speaker"] == "Melanie" and "pottery" in top["memory"]["text"]
    source = top["memory"]["sources"][0]
    assert source["role"] == "persona" and source["extra"] == {"dia_id": "25 May, 2023:3"}
    assert source["created_at"].startswith("2023-05-25")
    # Two people in one question: each gets its own part.
    out = StringIO()
    call_command("recall", conversation.pk, "What did Caroline and Melanie paint or make?", k=6, as_json=True,
                 stdout=out)
    assert len(json.loads(out.getvalue())["plan"]["parts"]) == 3


def test_a_shared_photo_is_recalled_by_what_it_shows(tmp_path, user, persona):
    # The turn says only "take a look at this": the caption the import carried is what it is about.
    lines = _session("8 May, 2023", 1, [
        (True, "I'm keen on counseling, I'd love to support people."),
        (False, "You'd be a great counselor! By the way, take a look at this."),
        (True, "Is this your own work?"),
        (False, "It is! Special to me."),
        (True, "I adopted a guinea pig called Oscar, he loves parsley."),
        (False, "My husband and I went hiking in the mountains last weekend."),
    ])
    lines[1]["extra"]["blip_caption"] = "a photo of a painting of a sunset over a lake in their garden"
    conversation = _import(tmp_path, user, persona, lines)
    shared = Memory.objects.get(conversation=conversation, layer="semantic", text__contains="shared a photo")
    # The captioner's words stand as they are ("their garden" is nobody in the chat).
    assert shared.text == "Melanie shared a photo of a painting of a sunset over a lake in their garden."
    out = StringIO()
    call_command("recall", conversation.pk, "What has Melanie painted?", k=2, as_json=True, stdout=out)
    top = json.loads(out.getvalue())["results"]
    assert any(s["extra"].get("dia_id") == "8 May, 2023:1" for r in top for s in r["memory"]["sources"])


def test_he_she_they_stand_for_someone_just_mentioned_not_for_someone_from_long_ago():
    ctx = semantic.Context(speaker="", addressee="")

    def facts(text: str, speaker: str, addressee: str, previous: str = "") -> list[str]:
        return [f.text for f in semantic.facts_from_message(text, speaker=speaker, addressee=addressee, when=MAY_8,
                                                            previous=previous, ctx=ctx)]

    assert facts("My friends threw me a party last night. They brought a huge chocolate cake.", "Caroline",
                 "Melanie")[1] == "Caroline's friends brought a huge chocolate cake."
    facts("I painted the kitchen wall blue this morning.", "Melanie", "Caroline")
    facts("I finished my counseling course this week.", "Caroline", "Melanie")
    later = facts("They were stoked for the dinosaur exhibit at the museum!", "Melanie", "Caroline",
                  previous="I finished my counseling course this week.")
    assert not any("friends" in t for t in later), later


def test_a_reply_carries_the_question_it_answers_even_when_a_remark_follows():
    previous = "Your kids are lovely. What concert was it? The advocacy event was a cool experience!"
    answer = "Thanks! It was Matt Patterson, he is so talented! His voice and songs were amazing. What's up with you?"
    assert semantic.asked_question(previous, answer) == "What concert was it?"
    # A short reply goes with the last thing said ("Maybe I will." is about the bakery, not the question).
    tip = "You know what you should try? The bakery on Quay Road."
    assert semantic.asked_question(tip, "Maybe I will.") == "The bakery on Quay Road."
    # A question further back than the turn's last few sentences is not what the reply answers.
    far = "What concert was it? I went out. It rained. We sang. The end."
    assert semantic.asked_question(far, "Guess what, I adopted a little grey cat from the shelter today and "
                                        "she is already asleep on my bed.") == ""
    # Agreeing goes on from the other's last sentence; news of one's own does not.
    said = "Taking care of ourselves matters. Great that you're prioritizing self-care."
    assert semantic.asked_question(said, "Yeah, it's tough. So I'm carving out some me-time each day, "
                                         "running or playing my violin.") == "Great that you're prioritizing self-care."
    assert semantic.asked_question(said, "Wow! I just signed up for a pottery class yesterday, it's like "
                                         "therapy for me.") == ""


def test_an_edit_rewrites_the_session_summary(tmp_path, user, persona):
    lines = _session("8 May, 2023", 1, [
        (True, "I adopted a greyhound named Pickle."), (False, "Pickle! I love that name."),
        (True, "She sleeps on my bed already."), (False, "Greyhounds are famous couch potatoes."),
    ])
    conversation = _import(tmp_path, user, persona, lines)
    before = Memory.objects.get(conversation=conversation, layer="session")
    assert "Pickle" in before.text
    message = conversation.messages.get(seq=1)
    message.content = "I adopted a whippet named Biscuit."
    message.save(update_fields=["content"])
    memory_reprocess_edited(conversation=conversation, message=message, use_llm=False)
    assert not Memory.objects.filter(pk=before.pk).exists()
    (after,) = sessions_update(conversation=conversation)
    assert "Biscuit" in after.text and "greyhound named Pickle" not in after.text


def test_privacy_export_and_delete_cover_every_layer(play, user):
    from companion.accounts.privacy import user_account_delete, user_data_get

    play.say("I have a dog named Biscuit.", "Biscuit! Lovely.")
    exported = {m["text"] for m in user_data_get(user=user)["memories"]}
    assert {"Alice: I have a dog named Biscuit.", "Alice has a dog named Biscuit."} <= exported
    assert any(t.endswith("Biscuit! Lovely.") for t in exported)
    user_pk = user.pk
    user_account_delete(user=user)
    assert not Memory.objects.filter(user_id=user_pk).exists()


def test_session_boundaries_follow_gaps(play, user, conversation):
    start = timezone.now() - timedelta(days=3)
    for i in range(4):
        play.say(f"Morning note {i}: the garden needs water.", "Noted.", when=start + timedelta(minutes=i))
    for i in range(4):
        play.say(f"Evening note {i}: the tomatoes are ripe.", "Lovely.", when=start + timedelta(hours=9, minutes=i))
    written = sessions_update(conversation=conversation)
    assert len(written) == 2 and all(len(m.source_messages.all()) >= 1 for m in written)
    assert {m.layer for m in written} == {"session"}
