"""The chat page's branch tree: the parent and each branch link to one another, with their branch point."""

from __future__ import annotations

import re

import pytest

from companion.chat.services import conversation_branch
from tests.web.factories import say

pytestmark = pytest.mark.django_db


def _tree(client, conversation) -> str:
    html = client.get(f"/conversations/{conversation.pk}/").content.decode()
    return re.search(r'<nav class="branch-tree".*?</nav>', html, re.S).group(0)


def test_the_tree_links_parent_and_branches(alice_client, alice, alice_conversation):
    assert " hidden>" in _tree(alice_client, alice_conversation)  # no branches: no tree shown
    say(alice_conversation, "Where is the key?", "Under the mat.")
    point = alice_conversation.messages.order_by("-seq").first()
    branch = conversation_branch(owner=alice, message=point)

    on_parent = _tree(alice_client, alice_conversation)
    assert " hidden>" not in on_parent and "Branches (2)" in on_parent
    assert f'href="/conversations/{branch.pk}/"' in on_parent and "from “Under the mat.”" in on_parent
    assert 'aria-current="page">Mira</span>' in on_parent
    on_branch = _tree(alice_client, branch)
    assert f'href="/conversations/{alice_conversation.pk}/"' in on_branch
    assert 'aria-current="page">Mira (branch)</span>' in on_branch
