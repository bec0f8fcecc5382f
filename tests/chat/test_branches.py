"""Branches: "Branch from here" copies the shown history up to a message into a new conversation."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from companion.chat import services
from companion.chat.models import Conversation, Message
from companion.chat.selectors import conversation_branch_tree
from companion.chat.services import ChatError, conversation_branch
from tests.chat.conftest import open_socket
from tests.web.factories import say


def _shown(conversation: Conversation) -> list[tuple[str, str]]:
    rows = conversation.messages.filter(deleted=False, is_active=True).order_by("seq")
    return [(m.role, m.content) for m in rows]


@pytest.fixture
def story(conversation):
    """Greeting, then three exchanges; the second reply was regenerated (its second version shown)."""
    say(conversation, "Where is the key?", "Under the mat.")
    user_2, first = say(conversation, "And the lamp?", "On the hook.")
    second, _ = services.reply_begin_regenerate(message=first)
    services.reply_finish(message_id=second.pk, content="In the cellar.", status="complete")
    say(conversation, "Let's go down.", "Mind the stairs.")
    return conversation, user_2, first, Message.objects.get(pk=second.pk)


def test_branch_copies_the_shown_history_up_to_and_including_the_message(story, user):
    conversation, _, _, second = story
    branch = conversation_branch(owner=user, message=second)

    assert (branch.owner, branch.persona, branch.parent, branch.branched_from) == (
        user, conversation.persona, conversation, second)
    assert _shown(branch) == [
        ("persona", "Evening, Alice. I'm Mira. Tea?"),
        ("user", "Where is the key?"), ("persona", "Under the mat."),
        ("user", "And the lamp?"), ("persona", "In the cellar."),  # the version shown, not "On the hook."
    ]
    copies = list(branch.messages.order_by("seq"))
    assert [m.seq for m in copies] == [1, 2, 3, 4, 5] and branch.last_seq == 5
    assert all(m.parent_id is None and m.is_active for m in copies)  # no alternatives came along
    originals = conversation.messages.filter(deleted=False, is_active=True).order_by("seq")[:5]
    assert [m.copied_from_id for m in copies] == [m.pk for m in originals]
    assert [m.created_at for m in copies] == [m.created_at for m in originals]
    assert _shown(conversation)[-2:] == [("user", "Let's go down."), ("persona", "Mind the stairs.")]  # untouched


def test_branch_from_an_inactive_version_takes_that_version(story, user):
    _, _, first, _ = story
    branch = conversation_branch(owner=user, message=first)
    assert _shown(branch)[-2:] == [("user", "And the lamp?"), ("persona", "On the hook.")]


def test_only_the_owner_can_branch_and_not_from_a_deleted_message(story, user, other_user):
    conversation, _, _, second = story
    with pytest.raises(ChatError) as refused:
        conversation_branch(owner=other_user, message=second)
    assert refused.value.code == "not_found"
    last_user = conversation.messages.filter(role="user").order_by("-seq").first()
    services.message_delete(message=last_user)
    last_user.refresh_from_db()
    with pytest.raises(ChatError):
        conversation_branch(owner=user, message=last_user)
    assert Conversation.objects.filter(parent=conversation).count() == 0


def test_branch_of_a_branch_and_the_tree(story, user):
    conversation, user_2, _, second = story
    first_branch = conversation_branch(owner=user, message=second)
    say(first_branch, "No, let's stay up here.", "Then I'll make tea.")
    tea = first_branch.messages.order_by("-seq").first()
    deeper = conversation_branch(owner=user, message=tea)
    sibling = conversation_branch(owner=user, message=user_2)

    assert _shown(deeper)[-2:] == [("user", "No, let's stay up here."), ("persona", "Then I'll make tea.")]
    # A copy of a copy points at the original turn (the one memory indexed).
    assert deeper.messages.get(seq=5).copied_from_id == second.pk
    assert deeper.messages.get(seq=7).copied_from_id == tea.pk

    for member in (conversation, first_branch, deeper, sibling):
        tree = conversation_branch_tree(user=user, conversation=member)
        assert [(n.conversation.pk, n.depth) for n in tree] == [
            (conversation.pk, 0), (first_branch.pk, 1), (deeper.pk, 2), (sibling.pk, 1)]
    assert [n.snippet for n in tree] == ["", "In the cellar.", "Then I'll make tea.", "And the lamp?"]


def test_a_branch_point_deleted_in_the_parent_is_shown_as_gone(story, user):
    conversation, _, _, _ = story
    last_user = conversation.messages.filter(role="user").order_by("-seq").first()
    branch = conversation_branch(owner=user, message=last_user)
    services.message_delete(message=last_user)
    node = conversation_branch_tree(user=user, conversation=branch)[1]
    assert (node.conversation, node.branched_from, node.snippet) == (branch, None, "")
    assert _shown(branch)[-1] == ("user", "Let's go down.")  # the branch keeps its copy


def test_deleting_the_parent_leaves_the_branch_standing(story, user):
    conversation, _, _, second = story
    branch = conversation_branch(owner=user, message=second)
    services.conversation_delete(conversation=conversation)
    branch.refresh_from_db()
    assert branch.parent_id is None and branch.branched_from_id is None
    assert len(_shown(branch)) == 5
    assert [n.conversation.pk for n in conversation_branch_tree(user=user, conversation=branch)] == [branch.pk]


@pytest.mark.django_db(transaction=True)
async def test_chatting_in_a_branch_streams_and_keeps_the_parent_as_it_was(
    conversation, user, login, scripted_backend
):
    await sync_to_async(say)(conversation, "Where is the key?", "Under the mat.")
    point = await Message.objects.filter(conversation=conversation).order_by("-seq").afirst()
    await sync_to_async(say)(conversation, "And the lamp?", "On the hook.")
    branch = await sync_to_async(conversation_branch)(owner=user, message=point)

    scripted_backend.replies = ["Then we go without the lamp."]
    ws = await open_socket(branch.pk, await login(user))
    try:
        await ws.send({"type": "message.send", "text": "Forget the lamp.", "client_id": "b-1"})
        frames = await ws.recv_until("message.done")
    finally:
        await ws.close()
    created = [f["message"] for f in frames if f["type"] == "message.created"]
    assert [m["seq"] for m in created] == [4, 5]  # after the three copied turns
    assert frames[-1]["message"]["content"] == "Then we go without the lamp."
    branch_rows = await sync_to_async(_shown)(branch)
    parent_rows = await sync_to_async(_shown)(conversation)
    assert branch_rows[-3:] == [("persona", "Under the mat."), ("user", "Forget the lamp."),
                                ("persona", "Then we go without the lamp.")]
    assert parent_rows[-2:] == [("user", "And the lamp?"), ("persona", "On the hook.")]
