"""The optional guard model, against a tiny OpenAI-format server: allow, refuse, timeout, down; fails closed."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction

from rendering import actors
from rendering.models import JobStatus, RenderJob, SafetyRefusal
from rendering.safety import (
    MODEL_REFUSED_MESSAGE,
    UNAVAILABLE_MESSAGE,
    RenderRefused,
    SafetyCheckUnavailable,
    render_prompt_text,
    render_request_verdict,
    safety_model_verdict,
    safety_model_verdict_sync,
)
from rendering.safety.model import ModelCallInTransaction, parse_verdict
from rendering.services import render_job_request
from tests.llm.openai_server import free_port
from tests.rendering.conftest import make_beat, wait_finished


class GuardServer:
    """Answers each chat completion with the next scripted reply: text, "HANG", or an HTTP status code."""

    def __init__(self) -> None:
        self.port = free_port()
        self.script: list[str | int] = []
        self.bodies: list[dict] = []
        self.release = threading.Event()
        guard = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                guard.bodies.append(body)
                action = guard.script.pop(0) if guard.script else "safe"
                if action == "HANG":
                    guard.release.wait(30)
                    return
                if isinstance(action, int):
                    payload, code = {"error": {"message": "boom", "type": "server_error"}}, action
                else:
                    code = 200
                    payload = {
                        "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": action}}],
                    }
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def guard(settings):
    server = GuardServer()
    settings.SAFETY_MODEL = "llama-guard"
    settings.SAFETY_MODEL_BASE_URL = server.url
    settings.SAFETY_MODEL_TIMEOUT_S = 1.0
    yield server
    server.stop()


@pytest.mark.parametrize(
    "reply, outcome",
    [("safe", "allow"), ("unsafe\nS4", "refuse"), ("Refuse: depicts a minor", "refuse"), ("ALLOW", "allow"),
     ("", "unavailable"), ("I think maybe", "unavailable")],
)
def test_replies_are_read_as_verdicts(reply, outcome):
    assert parse_verdict(reply).outcome == outcome


async def test_allow_and_refuse_from_the_model(guard):
    guard.script = ["safe", "unsafe\nS4"]
    assert (await safety_model_verdict("a woman on a rooftop")).outcome == "allow"
    refused = await safety_model_verdict("something else")
    assert refused.outcome == "refuse" and "S4" in refused.detail
    assert guard.bodies[0]["model"] == "llama-guard"
    assert guard.bodies[0]["messages"] == [{"role": "user", "content": "a woman on a rooftop"}]


async def test_timeout_and_outage_are_unavailable(guard, settings):
    guard.script = ["HANG"]
    settings.SAFETY_MODEL_TIMEOUT_S = 0.3
    assert (await safety_model_verdict("x")).outcome == "unavailable"
    guard.script = [500]
    assert (await safety_model_verdict("x")).outcome == "unavailable"
    settings.SAFETY_MODEL_BASE_URL = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    verdict = await safety_model_verdict("x")
    assert verdict.outcome == "unavailable" and verdict.detail


async def test_no_model_configured_allows_without_a_call(settings):
    settings.SAFETY_MODEL = ""
    assert (await safety_model_verdict("x")).outcome == "allow"


def test_instructions_go_as_a_system_message(guard, settings):
    settings.SAFETY_MODEL_INSTRUCTIONS = "Answer safe or unsafe."
    assert safety_model_verdict_sync("a cafe").outcome == "allow"
    assert guard.bodies[0]["messages"][0] == {"role": "system", "content": "Answer safe or unsafe."}


@pytest.mark.django_db
def test_never_inside_a_transaction(guard):
    with pytest.raises(ModelCallInTransaction), transaction.atomic():
        safety_model_verdict_sync("a cafe")
    assert guard.bodies == []


@pytest.mark.django_db(transaction=True)
async def test_request_verdict_is_on_the_final_prompt_and_combined_with_the_rules(guard, persona, user):
    from asgiref.sync import sync_to_async

    beat = make_beat()
    guard.script = ["unsafe\nS1"]
    verdict = await render_request_verdict(persona=persona, beat=beat)
    assert guard.bodies[0]["messages"][-1]["content"] == render_prompt_text(persona=persona, beat=beat)
    request = sync_to_async(render_job_request)
    with pytest.raises(RenderRefused) as refused:
        await request(persona=persona, beat=beat, requested_by=user, source="s", idempotency_key="m1",
                      model_verdict=verdict)
    assert refused.value.reason == MODEL_REFUSED_MESSAGE
    assert await SafetyRefusal.objects.filter(reason__startswith="safety_model:").acount() == 1
    assert await RenderJob.objects.acount() == 0
    # a rule refusal stands even when the model allows
    with pytest.raises(RenderRefused):
        await request(persona=persona, beat=make_beat(action="Mira and a 14 y.o."), requested_by=user, source="s",
                      idempotency_key="m2", model_verdict=parse_verdict("safe"))


def test_an_unreachable_model_fails_the_request_closed_without_a_refusal_row(persona, user):
    with pytest.raises(SafetyCheckUnavailable) as refused:
        render_job_request(persona=persona, beat=make_beat(), requested_by=user, source="s", idempotency_key="m3",
                           model_verdict=parse_verdict(""))
    assert refused.value.reason == UNAVAILABLE_MESSAGE
    assert RenderJob.objects.count() == 0 and SafetyRefusal.objects.count() == 0


def _queue(persona, user, key):
    job = RenderJob.objects.create(persona=persona, beat=make_beat().model_dump(mode="json"), requested_by=user,
                                   source="s", idempotency_key=key)
    actors.send_job(actors.render_clip, job)
    return wait_finished(job)


def test_worker_asks_the_model_and_a_refusal_fails_the_job(worker, guard, persona, user):
    guard.script = ["unsafe\nS4"]
    job = _queue(persona, user, "w1")
    assert job.status == JobStatus.FAILED and job.error_detail == MODEL_REFUSED_MESSAGE and not job.clip
    assert guard.bodies[0]["messages"][-1]["content"] == render_prompt_text(persona=persona, beat=job.scene_beat)
    assert SafetyRefusal.objects.filter(source="s").count() == 1


def test_worker_renders_when_the_model_allows(worker, guard, persona, user):
    guard.script = ["safe"]
    job = _queue(persona, user, "w2")
    assert job.status == JobStatus.SUCCEEDED and job.clip


def test_worker_fails_closed_when_the_model_is_down(worker, guard, persona, user, settings):
    settings.SAFETY_MODEL_BASE_URL = f"http://127.0.0.1:{free_port()}/v1"
    job = _queue(persona, user, "w3")
    assert job.status == JobStatus.FAILED and UNAVAILABLE_MESSAGE in job.error_detail and not job.clip
    assert job.attempts == settings.RENDER_MAX_RETRIES + 1  # retried like any transient error, then dead-lettered
