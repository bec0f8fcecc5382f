from __future__ import annotations

import pytest

from companion.chat import services
from tests.web.factories import make_persona, make_user


@pytest.fixture
def alice(db):
    return make_user("alice")


@pytest.fixture
def bob(db):
    return make_user("bob")


@pytest.fixture
def public_persona(db):
    return make_persona("Mira", portrait=True, tagline="A lighthouse keeper")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def alice_conversation(alice, public_persona):
    return services.conversation_start(owner=alice, persona=public_persona)


@pytest.fixture
def bob_conversation(bob, public_persona):
    return services.conversation_start(owner=bob, persona=public_persona)
