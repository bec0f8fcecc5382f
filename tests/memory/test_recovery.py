"""Memory work lost with a stopped process (the in-process queue dies with it) is found and redone."""

from __future__ import annotations

from companion.chat.services import message_create
from companion.memory.pipeline import exchange_process
from companion.memory.recovery import memory_requeue_unfinished, unfinished_exchanges
from tests.memory.conftest import texts


def test_exchanges_whose_memory_work_never_ran_are_requeued_oldest_first(play, conversation, user, persona):
    first, _ = play.say("I have a cat named Pixel.", process=False)
    second, _ = play.say("I work as a nurse.", process=False)
    message_create(conversation=conversation, role="user", kind="text", content="unanswered", status="complete")

    sent = []
    assert memory_requeue_unfinished(send=lambda *args: sent.append(args)) == 2
    assert [(c, u) for c, u, _ in sent] == [(conversation.pk, first.pk), (conversation.pk, second.pk)]
    assert all(reply is not None for _, _, reply in sent)

    for _conversation_id, user_message_id, reply_id in sent:  # what the worker does with them
        exchange_process(conversation=conversation, user_message=conversation.messages.get(pk=user_message_id),
                         reply_message=conversation.messages.get(pk=reply_id), use_llm=False)
    assert any("Pixel" in t for t in texts(user, persona))
    assert any("nurse" in t for t in texts(user, persona))
    assert unfinished_exchanges() == []


def test_an_exchange_is_marked_done_only_with_its_memories(play, monkeypatch):
    """Marking done first (the old order) lost the work when the job died before storing anything."""
    from companion.memory import pipeline

    um, _ = play.say("My sister is called Ines.", process=False)

    def crash(**kwargs):
        raise RuntimeError("worker killed mid-job")

    monkeypatch.setattr(pipeline, "memory_apply_exchange", crash)
    try:
        exchange_process(conversation=play.conversation, user_message=um, use_llm=False)
    except RuntimeError:
        pass
    assert [u for _, u, _ in unfinished_exchanges()] == [um.pk]  # still to do: a retry will redo it
