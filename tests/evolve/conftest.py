"""Fixtures for the Evolve tests: a user, a persona with a look and a LoRA trigger, a conversation."""

from __future__ import annotations

import pytest

from companion.chat.models import Conversation, Message
from tests.rendering.test_safety_model import guard  # noqa: F401  (the scripted guard-model server, as SAFETY_MODEL)


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="alex", password="pw-alex-123", first_name="Alex")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(username="sam", password="pw-sam-123")


@pytest.fixture
def persona(db):
    from personas.models import Persona

    return Persona.objects.create(
        name="Mira",
        appearance="adult woman in her thirties, long auburn hair, green eyes, freckles",
        wardrobe="a long navy wool coat",
        style_tags=["film grain", "35mm"],
        video_lora_trigger="m1ra_person",
        scenario="Mira runs a small lighthouse on a rocky coast.",
    )


@pytest.fixture
def conversation(user, persona):
    return Conversation.objects.create(owner=user, persona=persona, title="Mira")


@pytest.fixture
def say(conversation):
    """Append a message to the conversation: say("user", "hello")."""
    from companion.chat.services import message_create

    def _say(role: str, text: str, *, conv: Conversation | None = None, kind: str = Message.Kind.TEXT) -> Message:
        return message_create(
            conversation=conv or conversation, role=role, kind=kind, content=text, status=Message.Status.COMPLETE
        )

    return _say


@pytest.fixture(autouse=True)
def _fresh_layer_and_broker():
    """In-memory groups and queued Dramatiq messages must not leak between tests."""
    import dramatiq
    from channels.layers import channel_layers
    from django.core.cache import cache

    cache.clear()  # rate-limit counters
    channel_layers.backends = {}
    yield
    channel_layers.backends = {}
    cache.clear()
    broker = dramatiq.get_broker()
    if hasattr(broker, "flush_all"):
        broker.flush_all()
