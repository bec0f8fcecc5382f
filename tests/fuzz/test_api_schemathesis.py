"""Schemathesis against /api/schema/: generated requests for every operation, zero 500s.

Runs in-process through Django's WSGI handler (same views and middleware as
Daphne serves), authenticated with a DRF token of a user who owns a
conversation with messages, a memory and a clip, so detail routes reach real
objects as well as missing ones.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@pytest.fixture
def api_token(django_db_setup, django_db_blocker, settings):
    """One user and their data for the whole module (hypothesis runs many examples per test)."""
    from rest_framework.authtoken.models import Token

    from companion.chat import services as chat_services
    from companion.memory.models import Memory
    from rendering.models import JobStatus
    from tests.web.factories import make_clip_job, make_persona, make_user, say

    settings.CHAT_RATE_LIMIT = "100000/m"
    settings.RENDER_RATE_LIMIT = "100000/m"
    with django_db_blocker.unblock():
        user = make_user("schemathesis")
        persona = make_persona("Mira")
        conversation = chat_services.conversation_start(owner=user, persona=persona)
        _, reply = say(conversation, "We walk along the beach at sunset.")
        Memory.objects.create(user=user, persona=persona, conversation=conversation, text="Walks at sunset.")
        make_clip_job(reply, persona=persona, requested_by=user, idempotency_key="s1", status=JobStatus.SUCCEEDED)
        token = Token.objects.create(user=user).key
    yield token


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_never_answers_500(case, api_token, tally):
    response = case.call(headers={"Authorization": f"Token {api_token}"})
    tally["requests"] += 1
    tally[f"status_{response.status_code // 100}xx"] += 1
    assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text[:500])
