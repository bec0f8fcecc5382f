"""Streaming one persona reply: prompt → backend → deltas to the group → final row.

``reply_start`` runs ``reply_stream`` as an asyncio task owned by the process,
not by the socket that asked: a reply keeps generating when its socket drops
(a reload, a phone losing signal), bounded by its token budget and
``CHAT_REPLY_TIME_LIMIT_S``, and a reconnected page resumes it through
``history.sync`` (which carries the live text, ``reply_live_text``) plus the
following deltas. ``message.stop`` (``reply_stop``) is the only way to end it
early. Whatever happens, the reply row ends in a final state with the text
generated so far kept:

- the backend finishes           → ``complete`` (+ ``exchange_completed`` signal)
- the time limit passes          → ``complete`` with what there is (``failed``/``timeout`` if nothing)
- the backend raises mid-stream  → ``failed``, an ``error`` frame to the requester
- ``message.stop``               → ``interrupted``

and every socket on the conversation gets ``message.delta`` frames while it
grows and one ``message.done`` with the final row.

Per token the path does no database work and no thread hop: deltas go to
``_DeltaRelay`` (one frame per delta while the path is free; deltas arriving
while a frame is still being sent are joined into the next one, so a slow
channel layer gets fewer, larger frames instead of a growing backlog), and the
growing text is persisted by ``_ProgressSaver``, which writes every streaming
reply of the process in one DB-thread hop and one transaction per
``SAVE_EVERY_S`` instead of one hop per reply.
(A little over 400 lines: one job, the life of one reply; the relay and the saver are its per-token path.)
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.db import transaction

from companion.chat import services
from companion.chat.groups import conversation_broadcast
from companion.chat.models import Conversation, Message
from companion.chat.prompt import PromptBuild, prompt_build, prompt_warm
from companion.chat.reply_cleaning import clean_reply, cut_user_turn, trim_to_sentence
from companion.chat.reply_quality import fallback_line, review_reply
from companion.chat.sampling import sampling_for, sampling_for_retry
from companion.chat.scene import persona_view
from companion.chat.serializers import message_payload
from companion.chat.signals import exchange_completed
from companion.llm.base import BackendError, ChatBackend, SamplingParams
from companion.llm.guard import db_thread

logger = logging.getLogger(__name__)

SAVE_EVERY_S = 0.5  # persist the growing text this often (bounded loss on a crash)
HEARTBEAT_S = 10.0  # touch the row this often even without new text (see services.reply_expire_stale)

ErrorSink = Callable[[str, str], Awaitable[None]]

# What the user reads when a reply fails (the backend's own message goes to the log only).
USER_DETAIL = {
    "backend_unavailable": "The chat model is unreachable right now; try again in a moment.",
    "backend_error": "The chat model failed while answering; try again.",
}


def _query_text(reply_id: int) -> str:
    """The user message the reply answers: what the prompt's memory section will search for."""
    reply = Message.objects.select_related("parent").get(pk=reply_id)
    position = reply.parent.seq if reply.parent_id else reply.seq
    asked = (
        Message.objects.filter(conversation_id=reply.conversation_id, role=Message.Role.USER, deleted=False,
                               seq__lt=position)
        .order_by("-seq").values_list("content", flat=True).first()
    )
    return asked or ""


def _build(conversation_id: int, reply_id: int, backend: ChatBackend) -> tuple[Conversation, PromptBuild]:
    """The prompt for the reply, as its persona sees the scene (group scenes: its card, what it witnessed).

    The conversation returned is that persona's view (scene.persona_view): ``.persona`` is the speaker."""
    conversation = Conversation.objects.select_related("persona", "owner").get(pk=conversation_id)
    reply = Message.objects.select_related("parent", "persona").get(pk=reply_id)
    position = reply.parent.seq if reply.parent_id else reply.seq
    build = prompt_build(
        conversation=conversation,
        backend=backend,
        budget_tokens=settings.CHAT_PROMPT_TOKEN_BUDGET,
        before_seq=position,
        persona=reply.persona,
    )
    return persona_view(conversation, reply.persona), build


def _finish(reply_id: int, **fields: Any) -> dict[str, Any]:
    return message_payload(services.reply_finish(message_id=reply_id, **fields))


def _send_completed(conversation_id: int, reply_id: int) -> None:
    reply = Message.objects.select_related("conversation", "parent").get(pk=reply_id)
    position = reply.parent.seq if reply.parent_id else reply.seq
    user_message = (
        reply.conversation.messages.filter(role=Message.Role.USER, deleted=False, seq__lt=position)
        .order_by("-seq")
        .first()
    )
    results = exchange_completed.send_robust(
        sender=Message, conversation=reply.conversation, user_message=user_message, reply_message=reply
    )
    for receiver, result in results:
        if isinstance(result, Exception):
            logger.error("exchange_completed receiver %r failed", receiver, exc_info=result)


class _DeltaRelay:
    """``message.delta`` frames of one reply, with contiguous ``offset``s.

    A delta is sent at once when no frame of this reply is being sent; deltas
    that arrive while one is still in flight are joined into the next frame
    (text and offsets stay exact: a delta may carry several tokens).
    """

    def __init__(self, conversation_id: int, reply_id: int) -> None:
        self.conversation_id = conversation_id
        self.reply_id = reply_id
        self.pending: list[str] = []
        self.sent = 0  # characters relayed so far: the next frame's offset
        self.frames = 0
        self._sender: asyncio.Task | None = None

    async def push(self, delta: str) -> None:
        self.pending.append(delta)
        sender = self._sender
        if sender is not None:
            if not sender.done():
                return  # joins the frame after the one in flight
            sender.result()  # a failed broadcast fails the reply, as an inline send did
        self._sender = asyncio.create_task(self._drain())
        # Let it start now: while sending never suspends (in-memory layer) each
        # delta is its own frame, and a fast backend can't hog the loop.
        await asyncio.sleep(0)

    async def _drain(self) -> None:
        while self.pending:
            text = "".join(self.pending)
            self.pending.clear()
            frame = {"type": "message.delta", "message_id": self.reply_id, "text": text, "offset": self.sent}
            self.sent += len(text)
            self.frames += 1
            await conversation_broadcast(self.conversation_id, frame)

    async def close(self) -> None:
        """Every delta pushed so far is out when this returns (``message.done`` may follow)."""
        sender, self._sender = self._sender, None
        try:
            if sender is not None:
                await sender
            await self._drain()
        except Exception:  # the reply still ends; message.done carries the full text
            logger.warning("reply %s: relaying the last deltas failed", self.reply_id, exc_info=True)


class _Progress:
    __slots__ = ("parts", "saved_at", "saved_length")

    def __init__(self, parts: list[str]) -> None:
        self.parts = parts  # the reply's growing list of deltas (shared, only read here)
        self.saved_length = 0
        self.saved_at = time.monotonic()


def _save_progress_many(items: list[tuple[int, str]]) -> None:
    with transaction.atomic():
        for message_id, content in items:
            services.reply_save_progress(message_id=message_id, content=content)


class _ProgressSaver:
    """Persists the growing text of every streaming reply on one event loop.

    Every ``SAVE_EVERY_S`` the replies whose text grew (or that were not touched
    for ``HEARTBEAT_S``: the liveness heartbeat) are written in one DB-thread hop
    and one transaction. With 200 replies streaming that is 2 hops/s instead of
    400, none of it on the per-token path. The final write (``reply_finish``)
    always wins: a progress save only updates rows still ``streaming``.
    """

    _by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _ProgressSaver] = weakref.WeakKeyDictionary()

    def __init__(self) -> None:
        self.replies: dict[int, _Progress] = {}
        self.task: asyncio.Task | None = None

    @classmethod
    def current(cls) -> _ProgressSaver:
        loop = asyncio.get_running_loop()
        saver = cls._by_loop.get(loop)
        if saver is None:
            saver = cls._by_loop[loop] = cls()
        return saver

    def add(self, reply_id: int, parts: list[str]) -> None:
        self.replies[reply_id] = _Progress(parts)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(), name="reply-progress-saver")

    def remove(self, reply_id: int) -> None:
        self.replies.pop(reply_id, None)

    def due(self, now: float) -> list[tuple[int, str]]:
        """(reply id, text so far) of the replies to write now; marks them saved."""
        items = []
        for reply_id, progress in self.replies.items():
            length = sum(map(len, progress.parts))
            if length != progress.saved_length or now - progress.saved_at >= HEARTBEAT_S:
                items.append((reply_id, "".join(progress.parts)))
                progress.saved_length, progress.saved_at = length, now
        return items

    async def _run(self) -> None:
        try:
            while self.replies:
                await asyncio.sleep(SAVE_EVERY_S)
                items = self.due(time.monotonic())
                if not items:
                    continue
                try:
                    await db_thread(_save_progress_many)(items)
                except Exception:  # the next round retries; the final write does not depend on it
                    logger.warning("saving the progress of %d replies failed", len(items), exc_info=True)
        finally:
            if self.task is asyncio.current_task():
                self.task = None  # a finished task would keep its loop (the weak key) alive


# --- the process's running replies --------------------------------------------------

_running: dict[int, tuple[int, asyncio.Task, list[str]]] = {}  # reply id -> (conversation id, task, parts)


def reply_start(
    *, conversation_id: int, reply_id: int, backend: ChatBackend, on_error: ErrorSink | None = None
) -> asyncio.Task:
    """Generate reply ``reply_id`` in a task of this process (it outlives the socket that asked)."""
    parts: list[str] = []
    task = asyncio.create_task(
        reply_stream(conversation_id=conversation_id, reply_id=reply_id, backend=backend, on_error=on_error,
                     parts=parts),
        name=f"reply-{reply_id}",
    )
    _running[reply_id] = (conversation_id, task, parts)
    task.add_done_callback(lambda _t: _running.pop(reply_id, None))
    return task


def reply_stop(*, conversation_id: int, message_id: int | None = None) -> list[asyncio.Task]:
    """Cancel this process's running replies in the conversation (one, or all); returns the tasks."""
    tasks = [
        task for reply_id, (conv_id, task, _parts) in list(_running.items())
        if conv_id == conversation_id and message_id in (None, reply_id)
    ]
    for task in tasks:
        task.cancel()
    return tasks


def reply_live_text(reply_id: int) -> str | None:
    """The exact text a reply running in this process has so far (None when it runs elsewhere or ended)."""
    running = _running.get(reply_id)
    return "".join(running[2]) if running is not None else None


async def _warm_prompt(query_text: str) -> None:
    """The prompt's model work (memory embeds the question) in a worker thread, off the DB thread,
    for at most CHAT_PROMPT_WARMUP_TIMEOUT_S: a cold embedder (seconds to load, more under load)
    must not hold the reply; the build then ranks memories by their words, and the thread goes on
    loading the model for the next reply."""
    warm = asyncio.ensure_future(asyncio.to_thread(prompt_warm, query_text))
    try:
        await asyncio.wait_for(asyncio.shield(warm), settings.CHAT_PROMPT_WARMUP_TIMEOUT_S)
    except TimeoutError:
        logger.warning("prompt warm-up still running after %ss: this reply's memory ranks by words only",
                    settings.CHAT_PROMPT_WARMUP_TIMEOUT_S)
        warm.add_done_callback(_log_warm_failure)
    except Exception:
        logger.exception("prompt warm-up failed: this reply's memory ranks by words only")


def _log_warm_failure(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("prompt warm-up failed", exc_info=task.exception())


async def reply_stream(
    *,
    conversation_id: int,
    reply_id: int,
    backend: ChatBackend,
    on_error: ErrorSink | None = None,
    parts: list[str] | None = None,
) -> str:
    """Generate reply ``reply_id`` (a ``streaming`` row); returns its final status.

    ``parts`` receives the deltas as they come (reply_live_text reads it).
    """
    parts = [] if parts is None else parts
    seed = secrets.randbelow(2**31)  # fresh per reply, so a regenerate samples anew; kept on the row
    params: SamplingParams | None = None
    timed_out = False
    status = Message.Status.COMPLETE
    error = error_detail = ""
    build: PromptBuild | None = None
    stream = None
    relay: _DeltaRelay | None = None
    saver: _ProgressSaver | None = None
    cancelled = False
    try:
        # Heartbeat from the start: preparing the prompt or waiting for the model can take longer
        # than SWEEP_STREAM_STALE_S, and a live reply must not look abandoned meanwhile.
        saver = _ProgressSaver.current()
        saver.add(reply_id, parts)
        await _warm_prompt(await db_thread(_query_text)(reply_id))
        conversation, build = await db_thread(_build)(conversation_id, reply_id, backend)
        persona = conversation.persona
        params = sampling_for(persona, user_name=build.user_name, persona_name=persona.name, seed=seed)
        if build.others:  # a group scene: the model never writes the other members' lines either
            params = replace(params, stop=(*params.stop, *(f"\n{name}:" for name in build.others)))
        stream = backend.stream(build.turns, params=params, adapter=persona.llm_adapter or None)
        relay = _DeltaRelay(conversation_id, reply_id)
        async with asyncio.timeout(settings.CHAT_REPLY_TIME_LIMIT_S):
            async for delta in stream:
                if not delta:
                    continue
                parts.append(delta)
                await relay.push(delta)
    except TimeoutError:
        logger.warning("reply %s reached the %s s time limit", reply_id, settings.CHAT_REPLY_TIME_LIMIT_S)
        timed_out = True
        if not parts:
            status, error = Message.Status.FAILED, "timeout"
            error_detail = "The model took too long to answer; try again."
    except asyncio.CancelledError:
        status, cancelled = Message.Status.INTERRUPTED, True
    except BackendError as exc:  # what went wrong stays in the log: it can name hosts and paths
        status, error = Message.Status.FAILED, exc.code
        logger.warning("reply %s failed: %s", reply_id, exc)
        error_detail = USER_DETAIL.get(exc.code, USER_DETAIL["backend_error"])
    except Exception:  # a bug must still leave the row final and the socket usable
        status, error = Message.Status.FAILED, "backend_error"
        logger.exception("reply %s crashed", reply_id)
        error_detail = USER_DETAIL["backend_error"]
    finally:
        if saver is not None:
            saver.remove(reply_id)
        if stream is not None:
            await _close_quietly(stream)
        if relay is not None:  # every delta out before message.done
            try:
                await relay.close()
            except asyncio.CancelledError:  # a second cancel: still write the final row below
                cancelled = True

    content, review = "".join(parts), {}
    if status == Message.Status.COMPLETE and build is not None and params is not None:
        try:
            content, review = await _reviewed(content, build=build, backend=backend, params=params,
                                              persona=conversation.persona, timed_out=timed_out)
        except asyncio.CancelledError:  # Stop during the second try: keep what was streamed
            status, cancelled, content = Message.Status.INTERRUPTED, True, clean_reply(content)
    elif status == Message.Status.INTERRUPTED:
        content = clean_reply(content)
    fields: dict[str, Any] = {"content": content, "status": status}
    if error:
        fields["error_detail"] = error_detail
    if build is not None:
        fields["extra"] = {"prompt": build.compact(), "backend": backend.name, "seed": seed, **review}
        fields["prompt_tokens"] = build.total_tokens
        fields["completion_tokens"] = backend.count_tokens(fields["content"]) if parts else 0
    # Shielded: a second cancel (socket closing as the reply ends) must not
    # leave the row in ``streaming``.
    payload = await asyncio.shield(db_thread(_finish)(reply_id, **fields))
    await conversation_broadcast(conversation_id, {"type": "message.done", "message": payload})
    if error and on_error is not None:
        await on_error(error, fields["error_detail"])
    if status == Message.Status.COMPLETE:
        await db_thread(_send_completed)(conversation_id, reply_id)
    if cancelled:
        raise asyncio.CancelledError
    return status


def _polished(text: str, *, user_name: str, persona_name: str, hit_limit: bool) -> str:
    text = cut_user_turn(text, user_name=user_name, persona_name=persona_name)
    return trim_to_sentence(clean_reply(text), hit_limit=hit_limit)


async def _reviewed(
    text: str, *, build: PromptBuild, backend: ChatBackend, params: SamplingParams, persona: Any, timed_out: bool
) -> tuple[str, dict[str, Any]]:
    """The text to keep for a finished reply, and what review found (kept in ``extra``).

    The streamed text is tidied (the user's lines cut, glyph debris dropped,
    ended at a sentence when the budget ran out). If it still reads out of
    character, abusive, empty or repetitive, the model gets one more try with
    a fresh seed and a warmer temperature (``sampling_for_retry``, the retry
    bench/chat_quality measured; not streamed: ``message.done`` carries the
    result); if that fails too, a safe in-character line stands in.
    """
    names = {"user_name": build.user_name, "persona_name": persona.name}
    context = "\n".join(turn.content for turn in build.turns)
    hit_limit = timed_out or backend.count_tokens(text) >= params.max_tokens - 1
    review = review_reply(_polished(text, **names, hit_limit=hit_limit), **names, context=context)
    if review.ok:
        return review.text, {}
    found = {"review": review.problems}
    logger.info("reply review found %s; trying once more", review.problems)
    retry_params = sampling_for_retry(params, seed=secrets.randbelow(2**31))
    parts: list[str] = []
    try:
        async with asyncio.timeout(settings.CHAT_REPLY_TIME_LIMIT_S):
            async for delta in backend.stream(build.turns, params=retry_params, adapter=persona.llm_adapter or None):
                parts.append(delta)
    except (TimeoutError, BackendError) as exc:
        logger.warning("the second try failed: %s", exc)
    retried = "".join(parts)
    hit_limit = backend.count_tokens(retried) >= params.max_tokens - 1
    second = review_reply(_polished(retried, **names, hit_limit=hit_limit), **names, context=context)
    if second.ok:
        return second.text, {**found, "retry_seed": retry_params.seed}
    return fallback_line(persona.name, seed=params.seed), {**found, "fallback": second.problems}


async def _close_quietly(stream: Any) -> None:
    """Close the backend's generator so it stops generating (frees the model)."""
    aclose = getattr(stream, "aclose", None)
    if aclose is None:
        return
    try:
        await aclose()
    except Exception:
        logger.debug("closing backend stream failed", exc_info=True)
