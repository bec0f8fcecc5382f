"""Production chat backend: any OpenAI-compatible streaming endpoint, made for ``vllm serve``.

A persona's LoRA is served by vLLM as its own model name
(``vllm serve BASE --enable-lora --lora-modules mia=/loras/mia``), so the
persona's ``llm_adapter`` becomes the request's ``model``; without one we ask
for settings.LLM_MODEL (or the first model the server lists).

Failure behaviour, chosen so a chat never hangs:
- connecting (refused, DNS, connect timeout) is retried LLM_CONNECT_RETRIES
  times by the HTTP transport itself (httpcore's connection retries, backing
  off 0, 0.5, 1 … s): nothing was sent yet, so a retry cannot duplicate a
  reply; the openai client's own request retries are off;
- the read timeout (LLM_TIMEOUT_S) applies to every socket read, so it bounds
  both the wait for the first byte and the silence between two tokens; a
  timeout is not retried (the server may be busy generating);
- every failure surfaces as BackendUnavailable/BackendError naming the URL.
Closing the iterator closes the HTTP response, which makes vLLM abort the request.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import httpx2
import openai
from django.conf import settings
from pydantic import BaseModel

from companion.llm.base import (
    BackendError,
    BackendUnavailable,
    ChatBackend,
    ChatTurn,
    SamplingParams,
    SchemaT,
)
from companion.llm.stops import StopText
from companion.llm.structured import grammar_friendly_schema, json_schema, parse_structured

log = logging.getLogger(__name__)
T = TypeVar("T")

HEALTHCHECK_TIMEOUT_S = 3.0
# OpenAI's API takes at most 4 stop sequences, and vLLM 0.32 refuses more with HTTP 400
# ("List should have at most 4 items"); the chat sends about 14 (names, chat-template tokens).
MAX_SERVER_STOPS = 4
# The openai client's default pool (its DefaultAsyncHttpxClient), kept when we bring our own transport.
CONNECTION_LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)


class OpenAICompatibleBackend(ChatBackend):
    name = "openai"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        timeout_s: float | None = None,
        connect_timeout_s: float | None = None,
        connect_retries: int | None = None,
        tokenizer_path: str | None = None,
    ) -> None:
        self.base_url = (base_url or settings.LLM_BASE_URL).rstrip("/")
        self.api_key = api_key or settings.LLM_API_KEY or "EMPTY"
        self.model = model if model is not None else settings.LLM_MODEL
        self.timeout_s = timeout_s if timeout_s is not None else settings.LLM_TIMEOUT_S
        self.connect_timeout_s = connect_timeout_s if connect_timeout_s is not None else min(5.0, self.timeout_s)
        self.connect_retries = connect_retries if connect_retries is not None else settings.LLM_CONNECT_RETRIES
        self._tokenizer_path = tokenizer_path if tokenizer_path is not None else settings.LLM_TOKENIZER_PATH
        self._tokenizer: Any = None
        self._json_format: str | None = None  # the structured-output format this endpoint accepted
        self._tokenizer_lock = threading.Lock()
        # httpx connection pools belong to one event loop; Daphne has one, but
        # Dramatiq actors and tests may run several over the process's life.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, openai.AsyncOpenAI] = (
            weakref.WeakKeyDictionary()
        )

    # --- plumbing ------------------------------------------------------------

    def _client(self) -> openai.AsyncOpenAI:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = openai.AsyncOpenAI(
                base_url=self.base_url,
                api_key=self.api_key,
                timeout=openai.Timeout(self.timeout_s, connect=self.connect_timeout_s),
                max_retries=0,  # a request the server received is never sent again
                http_client=openai.DefaultAsyncHttpxClient(
                    transport=httpx2.AsyncHTTPTransport(retries=self.connect_retries, limits=CONNECTION_LIMITS)
                ),
            )
            self._clients[loop] = client
        return client

    async def _call(self, request: Callable[[], Awaitable[T]]) -> T:
        """Run ``request`` (the transport has already retried connecting), naming the endpoint on failure."""
        try:
            return await request()
        except openai.APITimeoutError as exc:
            raise BackendUnavailable(
                f"LLM endpoint {self.base_url} unreachable: no response within {self.timeout_s:g} s"
            ) from exc
        except openai.APIConnectionError as exc:
            raise BackendUnavailable(f"LLM endpoint {self.base_url} unreachable: {_reason(exc)}") from exc
        except openai.APIStatusError as exc:
            raise _status_error(self.base_url, exc) from exc

    async def list_models(self) -> list[str]:
        """The model names the endpoint serves (vLLM: the base model first, then its LoRAs)."""
        page = await self._call(lambda: self._client().models.list())
        return [model.id for model in page.data]

    async def adapter_load(self, name: str, path: str) -> None:
        """Have a vLLM server load the LoRA folder ``path`` (on the server's host) as model ``name``, now.

        vLLM allows it when started with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True; the adapter serves
        until the server restarts (list it with --lora-modules to keep it). Loading one that is
        already loaded does nothing.
        """
        body = {"lora_name": name, "lora_path": path}
        try:
            await self._call(lambda: self._client().post("/load_lora_adapter", body=body, cast_to=str))
        except BackendError as exc:
            if getattr(exc, "status_code", None) == 400 and "already been loaded" in str(exc):
                return
            raise

    async def _model_for(self, adapter: str | None) -> str:
        if adapter:
            return adapter
        if not self.model:
            # No LLM_MODEL: use what the server serves (vLLM lists the base model first).
            models = await self.list_models()
            if not models:
                raise BackendError(f"LLM endpoint {self.base_url} serves no models; set LLM_MODEL")
            self.model = models[0]
        return self.model

    async def _request(self, turns: Sequence[ChatTurn], params: SamplingParams, adapter: str | None) -> dict:
        body: dict[str, Any] = {
            "model": await self._model_for(adapter),
            "messages": [{"role": t.role, "content": t.content} for t in turns],
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
            "stream": True,
        }
        if params.stop:
            body["stop"] = list(params.stop[:MAX_SERVER_STOPS])  # _stream applies the rest
        if params.seed is not None:
            body["seed"] = params.seed
        # Not in OpenAI's API, so the client needs them as extra_body. Servers ignore names they
        # don't know: vLLM reads repetition_penalty, llama.cpp / LM Studio / Ollama repeat_penalty.
        extra: dict[str, Any] = {}
        if params.min_p > 0:
            extra["min_p"] = params.min_p
        if params.repetition_penalty is not None:
            extra["repetition_penalty"] = extra["repeat_penalty"] = params.repetition_penalty
        if extra:
            body["extra_body"] = extra
        return body

    async def _deltas(self, body: dict) -> AsyncIterator[str]:
        response = await self._call(lambda: self._client().chat.completions.create(**body))
        try:
            async for chunk in response:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except openai.APITimeoutError as exc:
            raise BackendUnavailable(
                f"LLM endpoint {self.base_url} stopped responding mid-reply (nothing for {self.timeout_s:g} s)"
            ) from exc
        except openai.APIError as exc:
            raise BackendError(f"LLM endpoint {self.base_url} failed mid-reply: {_reason(exc)}") from exc
        finally:
            # Also on cancel/close: dropping the connection makes vLLM abort the generation.
            await response.close()

    # --- the interface -----------------------------------------------------------

    async def _stream(
        self, turns: Sequence[ChatTurn], *, params: SamplingParams, adapter: str | None = None
    ) -> AsyncIterator[str]:
        deltas = self._deltas(await self._request(turns, params, adapter))
        try:
            if len(params.stop) <= MAX_SERVER_STOPS:
                async for delta in deltas:
                    yield delta
                return
            # More stop strings than the server takes: all are applied here, and a hit closes
            # the stream (the finally below), which makes the server abort the generation.
            text = StopText(params.stop)
            async for delta in deltas:
                if out := text.feed(delta):
                    yield out
                if text.hit:
                    return
            if tail := text.flush():
                yield tail
        finally:
            await deltas.aclose()

    async def _complete_json(
        self, turns: Sequence[ChatTurn], *, schema: type[SchemaT], params: SamplingParams
    ) -> SchemaT:
        body = await self._request(turns, params, None)
        # OpenAI's standard json_schema format (vLLM, LM Studio, Ollama) first; llama-cpp-python's
        # server refuses it (HTTP 500, "Input should be 'text' or 'json_object'") and takes
        # json_object with a schema instead. The first
        # format the endpoint accepts is kept for the next calls.
        formats = [self._json_format] if self._json_format else list(_JSON_FORMATS)
        for kind in formats:
            body["response_format"] = _JSON_FORMATS[kind](schema)
            # Streamed, so the idle timeout applies per token rather than to the whole object.
            parts = self._deltas(body)
            try:
                text = "".join([part async for part in parts])
            except BackendError as exc:
                if _refused_format(exc) and kind != formats[-1]:
                    log.info("LLM endpoint %s refused response_format %s; trying the next", self.base_url, kind)
                    continue
                raise
            finally:
                await parts.aclose()
            self._json_format = kind
            return parse_structured(schema, text)
        raise AssertionError("unreachable")  # the last format returns or raises

    def count_tokens(self, text: str) -> int:
        tokenizer = self._load_tokenizer()
        if tokenizer is None:
            # A conservative estimate for English (BPE tokenizers average ~4 chars/token).
            return max(1, math.ceil(len(text) / 3.5))
        return len(tokenizer.encode(text, add_special_tokens=False))

    def _load_tokenizer(self) -> Any:
        if not self._tokenizer_path:
            return None
        with self._tokenizer_lock:
            if self._tokenizer is None:
                from transformers import AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(self._tokenizer_path, local_files_only=True)
            return self._tokenizer

    async def healthcheck(self) -> None:
        client = self._client().with_options(timeout=min(HEALTHCHECK_TIMEOUT_S, self.timeout_s), max_retries=0)
        try:
            await client.models.list()
        except openai.APITimeoutError as exc:
            raise BackendUnavailable(f"LLM endpoint {self.base_url} unreachable: healthcheck timed out") from exc
        except openai.APIConnectionError as exc:
            raise BackendUnavailable(f"LLM endpoint {self.base_url} unreachable: {_reason(exc)}") from exc
        except openai.APIStatusError as exc:
            raise _status_error(self.base_url, exc) from exc


def _reason(exc: BaseException) -> str:
    """The underlying transport error, which says more than openai's generic message."""
    cause = exc.__cause__
    return f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)


def _status_error(base_url: str, exc: openai.APIStatusError) -> BackendError:
    detail = f"LLM endpoint {base_url} answered HTTP {exc.status_code}: {exc.message}"
    error = BackendUnavailable(detail) if exc.status_code in (502, 503, 504) else BackendError(detail)
    error.status_code = exc.status_code  # type: ignore[attr-defined]
    return error


def _refused_format(exc: BackendError) -> bool:
    """Did the endpoint refuse the request's response_format (rather than fail at generating)?"""
    status = getattr(exc, "status_code", None)
    return status in (400, 422) or (status == 500 and "response_format" in str(exc))


def _json_schema_format(schema: type[BaseModel]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": schema.__name__, "schema": json_schema(schema)}}


def _json_object_format(schema: type[BaseModel]) -> dict[str, Any]:
    # llama-cpp-python's grammar ignores integer bounds; small ranges go as enums (which it enforces).
    return {"type": "json_object", "schema": grammar_friendly_schema(schema)}


_JSON_FORMATS: dict[str, Callable[[type[BaseModel]], dict[str, Any]]] = {
    "json_schema": _json_schema_format,
    "json_object": _json_object_format,  # llama-cpp-python's server
}
