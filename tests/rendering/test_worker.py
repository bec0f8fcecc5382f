"""rendering.worker: render messages are told apart by their queue, and held jobs heartbeat."""

from __future__ import annotations

import dramatiq
import pytest
from django.core.cache import cache
from dramatiq.common import dq_name

from rendering.worker import QUEUE, RenderHeartbeat, heartbeat_age_s, render_job_id


def _message(queue_name: str, *args) -> dramatiq.Message:
    return dramatiq.Message(queue_name=queue_name, actor_name="any.actor", args=args, kwargs={}, options={})


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


def test_render_messages_are_known_by_their_queue_not_their_actor_name():
    assert render_job_id(_message(QUEUE, "job-1")) == "job-1"
    assert render_job_id(_message(dq_name(QUEUE), "job-2")) == "job-2"  # a delayed retry
    assert render_job_id(_message("default", "job-3")) is None
    assert render_job_id(_message(QUEUE)) is None


def test_a_delivered_job_is_held_until_its_last_message_and_only_the_claim_beats_at_once():
    middleware = RenderHeartbeat()
    first, second = _message(QUEUE, "job-1"), _message(QUEUE, "job-1")  # a redelivery running alongside
    other = _message("default", "memory-1")

    middleware.before_process_message(None, first)
    middleware.before_process_message(None, second)
    middleware.before_process_message(None, other)
    # A delivery alone writes no heartbeat: a duplicate must not make a dead worker's job look held.
    # The claim writes the first one (tests/rendering/test_actors.py); the thread beats held jobs after.
    assert heartbeat_age_s(job_id="job-1") is None
    middleware._beat(middleware.held)
    assert heartbeat_age_s(job_id="job-1") < 5
    assert heartbeat_age_s(job_id="memory-1") is None
    assert middleware.held == ["job-1"]

    middleware.after_process_message(None, first)
    assert middleware.held == ["job-1"]
    middleware.after_skip_message(None, second)
    assert middleware.held == []

