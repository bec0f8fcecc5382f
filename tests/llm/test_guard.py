"""The model-call guard: no model call inside a transaction or on the shared DB thread.

Each path that calls a model (chat stream, structured output, memory
extraction, summaries, scene extraction) is called the wrong way here and must
be refused; without the guard these tests fail, because the scripted backend
would simply answer. The right way (the code as shipped) is exercised by the
chat, memory and evolve tests, which run with MODEL_CALL_GUARD="raise".
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.db import transaction

from companion.llm.base import ChatTurn, SamplingParams
from companion.llm.guard import ModelCallForbidden, db_thread, model_call_problem, model_call_sync
from companion.memory.extraction import ExtractionResult
from companion.memory.reconciler import llm_extract
from companion.memory.summaries import llm_summary

TURNS = [ChatTurn("user", "hello")]
pytestmark = pytest.mark.django_db


async def _drain(backend) -> str:
    return "".join([d async for d in backend.stream(TURNS, params=SamplingParams())])


def test_outside_any_transaction_a_model_call_is_allowed(scripted_backend):
    assert model_call_problem() is None  # the test case's own transaction does not count
    assert async_to_sync(_drain)(scripted_backend) == "You said: hello"


def test_a_chat_stream_inside_a_transaction_is_refused(scripted_backend):
    with transaction.atomic(), pytest.raises(ModelCallForbidden, match="inside a transaction"):
        scripted_backend.stream(TURNS, params=SamplingParams())
    assert scripted_backend.calls == []


def test_structured_output_on_the_shared_db_thread_is_refused(scripted_backend):
    scripted_backend.json_replies = [{"ops": []}]

    def on_db_thread():
        return async_to_sync(scripted_backend.complete_json)(TURNS, schema=ExtractionResult, params=SamplingParams())

    async def call():
        return await db_thread(on_db_thread)()

    with pytest.raises(ModelCallForbidden, match="database_sync_to_async thread"):
        async_to_sync(call)()
    assert scripted_backend.calls == []


def test_memory_extraction_inside_a_transaction_is_refused_not_swallowed(scripted_backend):
    """llm_extract turns model failures into "rules only": a guard refusal must still surface."""
    scripted_backend.json_replies = [{"ops": []}]
    with transaction.atomic(), pytest.raises(ModelCallForbidden):
        llm_extract(existing=[], user_text="I have a cat", reply_text="Nice")


def test_a_summary_inside_a_transaction_is_refused(scripted_backend):
    scripted_backend.json_replies = [{"text": "They talked."}]
    with transaction.atomic(), pytest.raises(ModelCallForbidden):
        llm_summary(previous="", messages=[], user_name="Ana", persona_name="Mira")


def test_scene_extraction_on_the_shared_db_thread_is_refused(scripted_backend, conversation_with_reply):
    from companion.evolve import scenes

    ctx = scenes.gather_context(conversation_with_reply)

    def read_the_scene_there():  # what scene_extract / evolve_request do after gathering
        return model_call_sync("scene extraction", scenes.scene_model_ask, ctx, 1)

    async def call():
        return await db_thread(read_the_scene_there)()

    with pytest.raises(ModelCallForbidden):
        async_to_sync(call)()
    assert scripted_backend.calls == []


def test_in_production_the_guard_logs_and_lets_the_call_run(scripted_backend, settings, caplog):
    settings.MODEL_CALL_GUARD = "log"
    with transaction.atomic(), caplog.at_level(logging.ERROR, logger="companion.llm.guard"):
        stream = scripted_backend.stream(TURNS, params=SamplingParams())

    async def drain():
        return "".join([d async for d in stream])

    assert async_to_sync(drain)() == "You said: hello"
    assert "inside a transaction" in caplog.text


def test_sync_code_reaches_a_model_only_through_the_checked_wrapper():
    """Django's connections are per thread: a coroutine run by async_to_sync cannot see the
    caller's transaction, so sync callers must use guard.model_call_sync, which checks first."""
    root = Path(__file__).resolve().parents[2] / "companion"
    offenders = [
        str(path.relative_to(root.parent))
        for path in root.rglob("*.py")
        if path.name != "guard.py"
        and re.search(r"async_to_sync\([^)]*(complete_json|stream|scene_model_ask|safety_model)", path.read_text())
    ]
    assert offenders == []


@pytest.fixture
def conversation_with_reply(db):
    from django.contrib.auth import get_user_model

    from companion.chat.models import Message
    from companion.chat.services import conversation_start
    from personas.models import Persona

    user = get_user_model().objects.create_user("ana")
    persona = Persona.objects.create(name="Mira", greeting="*looks up from the lamp* Evening.")
    conversation = conversation_start(owner=user, persona=persona)
    return Message.objects.select_related("conversation__persona", "conversation__owner").get(
        conversation=conversation, role="persona"
    )
