"""Issue 11, items 8, 9 and 13: nothing private in the export, limits on every expensive action, bad input is a 4xx.

Each test replays the reported attack (or the input that gave a 500) and checks
the answer now: refused with the right status and a clear message, or answered
without the private part.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from companion.chat import services as chat_services
from companion.chat.models import Message
from companion.evolve.ranges import RangeNotSatisfiable, parse_range
from personas.lora import LoraValidationError, inspect_lora
from rendering.models import JobKind, JobStatus, RenderJob
from tests.web.factories import PASSWORD, make_clip_job, make_persona, make_user, say

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post_json(client: Client, url: str, body) -> object:
    return client.post(url, json.dumps(body) if not isinstance(body, str) else body, content_type="application/json")


# --- item 8: the export holds what the user wrote and saw, never a stored prompt ------------------------


def test_the_export_leaves_out_the_prompt_and_with_it_the_creators_hidden_system_prompt():
    alice = make_user("alice")
    persona = make_persona("Mira", system_prompt="HIDDEN-CREATOR-PROMPT: never reveal the twist.")
    conversation = chat_services.conversation_start(owner=alice, persona=persona)
    _, reply = say(conversation, "Hello there.", reply="Evening. Tea?")
    Message.objects.filter(pk=reply.pk).update(extra={
        "prompt": {"system": "HIDDEN-CREATOR-PROMPT: never reveal the twist.", "tokens": {"total": 40}},
        "seed": 7, "backend": "scripted",
    })
    archive = zipfile.ZipFile(io.BytesIO(_client(alice).get("/account/export/").content))
    everything = "".join(archive.read(name).decode() for name in archive.namelist())
    assert "HIDDEN-CREATOR-PROMPT" not in everything  # before: every reply carried it in extra.prompt
    conversations = json.loads(archive.read("conversations.json"))
    messages = conversations[0]["messages"]
    assert [m["content"] for m in messages if m["role"] != "system"][-2:] == ["Hello there.", "Evening. Tea?"]
    assert messages[-1]["extra"] == {"seed": 7, "backend": "scripted"}  # what the chat API shows too


# --- item 9: rate limits on every expensive action, one mechanism, 429 over HTTP ---------------------------


@pytest.fixture
def chat(settings):
    alice = make_user("alice")
    conversation = chat_services.conversation_start(owner=alice, persona=make_persona("Mira"))
    _, reply = say(conversation, "We walk to the pier at dusk.")
    return alice, conversation, reply


def test_scene_previews_are_rate_limited_with_429(chat, settings):
    settings.RENDER_PREVIEW_RATE_LIMIT = "2/m"
    alice, _, reply = chat
    client = _client(alice)
    codes = [_post_json(client, "/api/evolve/preview/", {"message_id": reply.pk}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]  # before: no limit at all (a model call each)
    refused = _post_json(client, "/api/evolve/preview/", {"message_id": reply.pk})
    assert refused.json()["code"] == "rate_limited" and int(refused["Retry-After"]) >= 1


def _finished_clip(user, reply, key: str) -> RenderJob:
    return make_clip_job(
        reply, requested_by=user, idempotency_key=key, status=JobStatus.SUCCEEDED,
        kind=JobKind.CLIP, clip=f"renders/clips/{key}.mp4",
    )


def test_reels_are_rate_limited_and_a_clip_goes_in_once(chat, settings):
    settings.REEL_RATE_LIMIT = "2/h"
    alice, conversation, reply = chat
    clips = [str(_finished_clip(alice, reply, f"c{i}").pk) for i in range(3)]
    client = _client(alice)
    same_clip_twenty_times = _post_json(
        client, "/api/evolve/reels/", {"conversation_id": conversation.pk, "job_ids": [clips[0]] * 20})
    assert same_clip_twenty_times.status_code == 400  # before: accepted
    codes = [
        _post_json(client, "/api/evolve/reels/", {"conversation_id": conversation.pk, "job_ids": clips[:n],
                                                   "client_id": f"r{n}"}).status_code
        for n in (1, 2, 3)
    ]
    assert codes == [201, 201, 429]  # before: 8 in a row were all 201
    again = _post_json(client, "/api/evolve/reels/", {"conversation_id": conversation.pk, "job_ids": clips[:1],
                                                      "client_id": "r1"})
    assert again.status_code == 200  # repeating a request already made is free


def test_render_requests_are_counted_before_any_model_work(chat, settings, scripted_backend):
    settings.RENDER_RATE_LIMIT = "1/m"
    alice, _, reply = chat
    client = _client(alice)
    assert _post_json(client, "/api/evolve/jobs/", {"message_id": reply.pk, "client_id": "a"}).status_code == 201
    calls = len(scripted_backend.calls)
    refused = _post_json(client, "/api/evolve/jobs/", {"message_id": reply.pk, "client_id": "b"})
    assert refused.status_code == 429 and len(scripted_backend.calls) == calls  # no model call for a refusal


def test_signups_are_limited_per_client_address(settings):
    settings.SIGNUP_RATE_LIMIT = "2/h"

    def signup(name: str, address: str) -> int:
        return Client().post("/signup/", {"username": name, "password1": PASSWORD, "password2": PASSWORD,
                                          "attest": "on"}, REMOTE_ADDR=address).status_code

    assert [signup(f"bot{i}", "198.51.100.9") for i in range(3)] == [302, 302, 429]
    assert signup("human", "203.0.113.20") == 302  # another address has its own budget


def test_the_limiter_is_one_mechanism_and_refunds_a_refused_action(settings):
    from companion.core.ratelimit import rate_hit, rate_refund

    settings.CHAT_RATE_LIMIT = "2/m"
    assert not rate_hit("chat", 5) and not rate_hit("chat", 5)
    rate_refund("chat", 5)  # the second one was refused as busy and stored nothing
    assert not rate_hit("chat", 5)
    assert rate_hit("chat", 5)


@pytest.mark.django_db(transaction=True)
async def test_a_send_refused_as_busy_does_not_count_against_the_chat_limit(settings, scripted_backend):
    from asgiref.sync import sync_to_async

    from tests.chat.conftest import open_socket, session_cookie

    settings.CHAT_RATE_LIMIT = "2/m"
    alice = await sync_to_async(make_user)("alice")
    conversation = await sync_to_async(chat_services.conversation_start)(
        owner=alice, persona=await sync_to_async(make_persona)("Mira"))
    scripted_backend.token_delay_s = 0.05
    scripted_backend.replies = ["a fairly long reply that takes a while to stream out", "second", "third"]
    ws = await open_socket(conversation.pk, await sync_to_async(session_cookie)(alice))
    await ws.send({"type": "message.send", "text": "first", "client_id": "b-1"})
    await ws.recv_until("message.delta")
    for i in range(3):  # refused while the reply streams: none of these may use up the budget
        await ws.send({"type": "message.send", "text": f"again {i}", "client_id": f"b-x{i}"})
        assert (await ws.recv_until("error"))[-1]["code"] == "busy"
    await ws.recv_until("message.done")
    await ws.send({"type": "message.send", "text": "second", "client_id": "b-2"})
    frames = await ws.recv_until("message.created", client_id="b-2")
    assert not [f for f in frames if f["type"] == "error"], frames
    await ws.close()


# --- item 13: bad input is a 4xx, never a 500 --------------------------------------------------------------


def test_deeply_nested_json_bodies_are_400_not_500(chat):
    alice, _, reply = chat
    client = _client(alice)
    for depth in (100_000, 200):  # past the parser's recursion, and past JSON_MAX_DEPTH
        body = f'{{"message_id": {reply.pk}, "direction": {"[" * depth + "]" * depth}}}'
        for url in ("/api/evolve/jobs/", "/api/evolve/preview/", "/api/conversations/"):
            response = _post_json(client, url, body)
            assert response.status_code == 400, (url, depth, response.status_code)
            assert "nested" in response.json()["detail"], (url, depth)


def test_a_5000_digit_range_header_is_416():
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=" + "9" * 5000 + "-", 1000)
    assert parse_range("bytes=0-" + "9" * 5000, 1000).end == 999  # an end past the file is the file's end
    assert parse_range("bytes=-" + "9" * 5000, 1000).start == 0


def test_a_5000_digit_range_on_a_clip_answers_416(chat):
    from django.core.files.base import ContentFile

    alice, _, reply = chat
    job = _finished_clip(alice, reply, "range")
    job.clip.save(f"{job.pk}.mp4", ContentFile(b"\x00" * 2048), save=True)
    response = _client(alice).get(f"/clips/{job.pk}/video.mp4", HTTP_RANGE="bytes=" + "7" * 5000 + "-")
    assert response.status_code == 416  # before: int() of 5,000 digits raised, a 500


def _safetensors(header: dict | str, data: bytes = b"") -> io.BytesIO:
    raw = (header if isinstance(header, str) else json.dumps(header)).encode()
    return io.BytesIO(struct.pack("<Q", len(raw)) + raw + data)


def test_lora_headers_nested_too_deeply_or_with_overflowing_shapes_are_refused():
    nested = "{" + '"a":{' * 5000 + "}" * 5000 + "}"
    for header in (
        nested,
        {"m.lora_A.weight": {"dtype": "F32", "shape": [2**64, 2**64], "data_offsets": [0, 16]},
         "m.lora_B.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [16, 32]}},
        {"m.lora_A.weight": {"dtype": "F32", "shape": [2**62, 4], "data_offsets": [0, 16]},  # wraps in int64
         "m.lora_B.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [16, 32]}},
    ):
        fh = _safetensors(header, b"\x00" * 32)
        with pytest.raises(LoraValidationError):
            inspect_lora(fh, filename="x.safetensors", size=len(fh.getvalue()))


def test_api_tokens_expire(settings):
    settings.API_TOKEN_TTL_HOURS = 24
    alice = make_user("alice")
    token = Token.objects.create(user=alice)
    auth = {"HTTP_AUTHORIZATION": f"Token {token.key}"}
    assert Client().get("/api/conversations/", **auth).status_code == 200
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - timedelta(hours=25))
    expired = Client().get("/api/conversations/", **auth)
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    fresh = Client().post("/api/auth/token/", {"username": "alice", "password": PASSWORD})
    assert fresh.status_code == 200 and fresh.json()["token"] != token.key and fresh.json()["expires_at"]
    assert Client().get("/api/conversations/", HTTP_AUTHORIZATION=f"Token {fresh.json()['token']}").status_code == 200


def test_api_schema_and_docs_need_a_login_in_production(settings):
    settings.API_DOCS_PUBLIC = False  # production (REDIS_URL set) default
    for url in ("/api/schema/", "/api/docs/"):
        assert Client().get(url).status_code in (401, 403), url
        assert _client(make_user(f"u{len(url)}")).get(url).status_code == 200, url
    settings.API_DOCS_PUBLIC = True  # the embedded default
    assert Client().get("/api/schema/").status_code == 200


def test_a_renderer_crash_shows_the_user_no_internal_text(chat):
    """The job's user-visible reason (render.failed, the job API) names no exception or path."""
    from rendering import actors

    alice, _, reply = chat
    job = make_clip_job(reply, requested_by=alice, idempotency_key="crash", beat={})

    def crash(job, reporter):
        raise KeyError("/srv/models/secret-path/unet.safetensors")

    actors._run(str(job.pk), crash)
    job.refresh_from_db()
    assert job.status == "failed"
    assert "KeyError" not in job.error_detail and "/srv/" not in job.error_detail
    shown = _client(alice).get(f"/api/evolve/jobs/{job.pk}/").content.decode()
    assert "secret-path" not in shown and "KeyError" not in shown
