"""Hypothesis-generated websocket frames against the conversation consumer.

Wrong types, huge strings, deep nesting, unicode edge cases (lone surrogates
in JSON escapes, NUL, RTL marks, emoji), binary frames, and valid frames with
hostile field values. The consumer must answer with ``error`` frames (or a
normal reply) and keep the socket open: zero unhandled exceptions.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from companion.asgi import application
from companion.chat import services as chat_services
from tests.web.factories import make_persona, make_user

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(600)]

TYPES = ["message.send", "message.regenerate", "message.select", "message.edit", "message.delete", "message.stop",
         "history.sync", "render.request", "render.preview", "render.cancel", "render.bogus", "", "x" * 300]

edge_text = st.one_of(
    st.text(max_size=50),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
    st.sampled_from(["\x00", "\u202e\u202dabc", "🧜‍♀️" * 50, "\ufeff", "a\u0301" * 30, "' OR 1=1 --",
                     "<script>x</script>", "{{char}}", "\\ud800", " " * 100]),
    st.just("x" * 9000),  # over CHAT_MAX_MESSAGE_CHARS
    st.just("y" * 300_000),  # far over any limit
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True), edge_text)
json_values = st.recursive(
    scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=12,
)


def _frame_dict(kind, fields):
    return {"type": kind, **fields}


dict_frames = st.builds(
    _frame_dict,
    st.one_of(st.sampled_from(TYPES), scalars),
    st.dictionaries(
        st.sampled_from(["text", "client_id", "message_id", "after_seq", "job_id", "direction", "beat", "extra"]),
        json_values, max_size=5,
    ),
).map(lambda d: json.dumps(d, allow_nan=True))


def _deep(depth: int, kind: str) -> str:
    return ("[" * depth + "]" * depth) if kind == "list" else ('{"a":' * depth + "1" + "}" * depth)


raw_frames = st.one_of(
    dict_frames,
    json_values.map(json.dumps),
    edge_text,  # not JSON at all, mostly
    st.builds(_deep, st.integers(min_value=50, max_value=200_000), st.sampled_from(["list", "dict"])),
    st.just('{"type": "message.send", "text": "\\ud800\\udfff\\ud800", "client_id": "surrogates"}'),
    st.just('{"type": "message.edit", "message_id": 1, "text": "\\u0000nul"}'),
    st.binary(max_size=200).map(lambda b: b),
)


@pytest.fixture
def conversation_socket(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CHAT_RATE_LIMIT = "100000/m"  # fuzz the parser and handlers, not the limiter
    user = make_user("fuzz")
    conversation = chat_services.conversation_start(owner=user, persona=make_persona("Mira"))
    client = Client()
    client.force_login(user)
    return conversation, client.cookies["sessionid"].value


async def _run(conversation_id: int, sessionid: str, frames: list, tally) -> None:
    comm = WebsocketCommunicator(
        application, f"/ws/conversations/{conversation_id}/",
        headers=[(b"origin", b"http://testserver"), (b"host", b"testserver"),
                 (b"cookie", f"sessionid={sessionid}".encode())],
    )
    connected, _ = await comm.connect()
    assert connected
    try:
        for frame in frames:
            tally["frames_sent"] += 1
            if frame in ("", b""):  # the communicator refuses empty frames; a browser can send one
                key = "bytes" if isinstance(frame, bytes) else "text"
                await comm.send_input({"type": "websocket.receive", key: frame})
            elif isinstance(frame, bytes):
                await comm.send_to(bytes_data=frame)
            else:
                await comm.send_to(text_data=frame)
            # Drain what the frame caused (replies stream in: wait briefly for quiet).
            # receive_nothing waits without cancelling the app (receive_output's timeout would).
            while not await comm.receive_nothing(timeout=0.3, interval=0.02):
                out = await comm.receive_output(timeout=5)
                assert out["type"] == "websocket.send", f"socket closed by {frame!r:.200}: {out}"
                reply = json.loads(out["text"])
                tally[f"got_{reply['type']}"] += 1
                if reply["type"] == "error":
                    tally[f"error_{reply['code']}"] += 1
        # Still alive and coherent: a history sync answers.
        await comm.send_to(text_data=json.dumps({"type": "history.sync", "after_seq": 0}))
        while True:
            out = await comm.receive_output(timeout=5)
            assert out["type"] == "websocket.send", out
            reply = json.loads(out["text"])
            if reply["type"] == "error":  # a late answer to the last fuzzed frame
                tally[f"error_{reply['code']}"] += 1
            if reply["type"] == "history":
                break
    finally:
        if not comm.future.done():
            await comm.disconnect()
        else:
            comm.future.result()  # re-raises an unhandled consumer exception, if any


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(frames=st.lists(raw_frames, min_size=1, max_size=8))
# One frame per refusal always runs, so the coverage check below never depends on the draw.
@example(frames=["{not json", '{"type": "no.such.type"}', '{"type": "message.send"}'])
def test_websocket_frames_never_crash_the_consumer(conversation_socket, tally, frames):
    cache.clear()
    channel_layers.backends = {}
    conversation, sessionid = conversation_socket
    tally["examples"] += 1
    asyncio.run(_run(conversation.pk, sessionid, frames, tally))
    assert tally["frames_sent"] > 0


def test_the_fuzzer_reached_every_error_path(tally):
    """Runs after the fuzz test in this module: the generated frames exercised the parser's refusals."""
    if not tally:
        pytest.skip("the fuzz test did not run in this session")
    for code in ("error_bad_json", "error_invalid_frame", "error_unknown_type"):
        assert tally[code] > 0, (code, dict(tally))
