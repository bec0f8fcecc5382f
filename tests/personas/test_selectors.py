"""Who sees which persona: public ones, plus a user's own private ones."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from personas.models import Persona
from personas.selectors import persona_get_visible, persona_list_visible

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(django_user_model):
    alice = django_user_model.objects.create_user("alice")
    bob = django_user_model.objects.create_user("bob")
    Persona.objects.create(name="Public One", visibility="public")
    Persona.objects.create(name="Alice Secret", visibility="private", owner=alice)
    Persona.objects.create(name="Bob Secret", visibility="private", owner=bob)
    return alice, bob


def names(qs):
    return sorted(p.name for p in qs)


def test_list_visible(people):
    alice, bob = people
    assert names(persona_list_visible(user=AnonymousUser())) == ["Public One"]
    assert names(persona_list_visible(user=None)) == ["Public One"]
    assert names(persona_list_visible(user=alice)) == ["Alice Secret", "Public One"]
    assert names(persona_list_visible(user=bob)) == ["Bob Secret", "Public One"]


def test_get_visible_by_slug_or_id(people):
    alice, bob = people
    secret = Persona.objects.get(name="Alice Secret")
    assert persona_get_visible(user=alice, slug_or_id="alice-secret") == secret
    assert persona_get_visible(user=alice, slug_or_id=secret.pk) == secret
    assert persona_get_visible(user=alice, slug_or_id=str(secret.pk)) == secret
    for key in ("alice-secret", secret.pk):
        with pytest.raises(Persona.DoesNotExist):
            persona_get_visible(user=bob, slug_or_id=key)
        with pytest.raises(Persona.DoesNotExist):
            persona_get_visible(user=AnonymousUser(), slug_or_id=key)
