"""The Evolve REST API reads its bodies with DRF serializers and refuses in one shape
(companion.api.exceptions): {code, detail} plus the per-field lists."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

BEACH = "*smiles and walks toward you along the moonlit beach*"


def _api(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_rest_bodies_are_validated_by_serializers_with_one_error_shape(user, say, conversation):
    msg = say("persona", BEACH)
    client = _api(user)
    bad = client.post("/api/evolve/jobs/", {"message_id": msg.pk, "direction": {"camera": "sideways"}},
                      content_type="application/json")
    assert bad.status_code == 400
    body = bad.json()
    assert body["code"] == "invalid" and body["detail"].startswith("direction: ") and "camera" in body["detail"]
    assert "direction" in body  # the per-field errors stay, as for every DRF serializer
    missing = client.post("/api/evolve/preview/", {}, content_type="application/json").json()
    assert missing["code"] == "invalid" and missing["detail"].startswith("message_id: ")
    too_many = client.post("/api/evolve/reels/", {"conversation_id": conversation.pk, "job_ids": ["a"] * 21},
                           content_type="application/json")
    assert too_many.status_code == 400 and too_many.json()["detail"].startswith("job_ids: ")
    not_mine = client.post("/api/evolve/reels/", {"conversation_id": conversation.pk + 1000, "job_ids": ["a"]},
                           content_type="application/json")
    assert not_mine.status_code == 404 and not_mine.json()["code"] == "not_found"
    remix = client.post("/api/evolve/jobs/", {"message_id": msg.pk, "direction": {"camera": "orbit"},
                                              "client_id": " r1 "}, content_type="application/json")
    assert remix.status_code == 201 and remix.json()["beat"]["camera"] == "orbit"
