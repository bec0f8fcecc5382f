"""Fixtures for the memory tests: two users, a persona, and a helper that plays an exchange."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.utils import timezone

from companion.chat.models import Conversation, Message
from companion.chat.services import message_create
from companion.memory import recall_index
from companion.memory.pipeline import ExchangeOutcome, exchange_process
from personas.models import Persona


@pytest.fixture(autouse=True)
def _fresh_memory_caches(settings):
    cache.clear()
    recall_index.clear_cache()
    yield
    cache.clear()
    recall_index.clear_cache()


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("alice", password="pw-alice-123", first_name="Alice")


@pytest.fixture
def other_user(db):
    return get_user_model().objects.create_user("bob", password="pw-bob-123", first_name="Bob")


@pytest.fixture
def persona(db):
    return Persona.objects.create(name="Mira", description="{{char}} keeps a lighthouse.", greeting="Evening.")


@pytest.fixture
def conversation(user, persona):
    return Conversation.objects.create(owner=user, persona=persona, title="Mira")


class Player:
    """Plays user/persona exchanges into a conversation and runs the memory pipeline."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.clock = timezone.now() - timedelta(days=1)

    def say(self, text: str, reply: str = "I see.", *, when: datetime | None = None, llm: bool = False,
            process: bool = True) -> tuple[Message, ExchangeOutcome | None]:
        self.clock = when or self.clock + timedelta(minutes=1)
        um = message_create(conversation=self.conversation, role="user", kind="text", content=text,
                            status="complete")
        rm = message_create(conversation=self.conversation, role="persona", kind="text", content=reply,
                            status="complete")
        Message.objects.filter(pk__in=[um.pk, rm.pk]).update(created_at=self.clock)
        um.refresh_from_db()
        outcome = None
        if process:
            outcome = exchange_process(conversation=self.conversation, user_message=um, reply_message=rm,
                                       use_llm=llm)
        return um, outcome


@pytest.fixture
def play(conversation) -> Player:
    return Player(conversation)


def texts(user: Any, persona: Any) -> list[str]:
    from companion.memory.models import Memory

    return sorted(Memory.objects.filter(user=user, persona=persona, layer="semantic").values_list("text", flat=True))
