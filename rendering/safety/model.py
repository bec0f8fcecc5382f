"""The optional model check: a guard model on an OpenAI-compatible endpoint classifies the final prompt.

Configured by ``SAFETY_MODEL`` (the served model's name; empty turns the check
off), ``SAFETY_MODEL_BASE_URL`` (default: the chat's ``LLM_BASE_URL``),
``SAFETY_MODEL_API_KEY`` (default ``LLM_API_KEY``), ``SAFETY_MODEL_TIMEOUT_S``
and ``SAFETY_MODEL_INSTRUCTIONS`` (sent as a system message when set; guard
models such as Llama Guard bring their own policy in the chat template and
take the text as the only user message).

The reply is read as a verdict: it refuses when it starts with "unsafe",
"refuse", "block", "deny" or "no"; it allows when it starts with "safe",
"allow", "ok" or "yes".  Anything else, a timeout, an HTTP error or a refused
connection is ``unavailable``, which the gate treats as a refusal (renders
fail closed).

``safety_model_verdict`` is a coroutine (for callers on an event loop: the
websocket path, off the shared database thread); ``safety_model_verdict_sync``
runs it on a private loop for the render worker.  Neither may run inside a
database transaction: a guard model can take seconds, and on SQLite an open
write transaction blocks every other writer meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import connections

log = logging.getLogger(__name__)

ALLOW, REFUSE, UNAVAILABLE = "allow", "refuse", "unavailable"

UNAVAILABLE_MESSAGE = (
    "The safety check could not be completed right now, so nothing was rendered. Please try again in a minute."
)

_REFUSE_RE = re.compile(r"^\W*(?:unsafe|refuse[ds]?|refusal|block(?:ed)?|deny|denied|no|flag(?:ged)?|violat)", re.I)
_ALLOW_RE = re.compile(r"^\W*(?:safe|allow(?:ed)?|ok(?:ay)?|yes|pass(?:ed)?|benign|acceptable)\b", re.I)


@dataclass(frozen=True)
class Verdict:
    outcome: str  # allow | refuse | unavailable
    detail: str = ""  # the model's reply (refuse) or what went wrong (unavailable)

    @property
    def allowed(self) -> bool:
        return self.outcome == ALLOW


def safety_model_name() -> str:
    return settings.SAFETY_MODEL.strip()


def safety_model_configured() -> bool:
    return bool(safety_model_name())


def parse_verdict(reply: str) -> Verdict:
    text = (reply or "").strip()
    if _REFUSE_RE.match(text):
        return Verdict(REFUSE, text[:200])
    if _ALLOW_RE.match(text):
        return Verdict(ALLOW, text[:200])
    return Verdict(UNAVAILABLE, f"unreadable verdict: {text[:120]!r}")


class ModelCallInTransaction(RuntimeError):
    """The safety model was called inside a database transaction."""


def _check_not_in_transaction() -> None:
    for alias in connections:
        connection = connections[alias]
        blocks = getattr(connection, "atomic_blocks", [])
        if any(not getattr(block, "_from_testcase", False) for block in blocks):
            message = f"safety model called inside a transaction on {alias!r}: commit first, then call the model"
            if settings.MODEL_CALL_GUARD == "raise":
                raise ModelCallInTransaction(message)
            log.error(message, stack_info=True)
            return


def _client():
    from openai import AsyncOpenAI

    base_url = settings.SAFETY_MODEL_BASE_URL or settings.LLM_BASE_URL
    api_key = settings.SAFETY_MODEL_API_KEY or settings.LLM_API_KEY or "EMPTY"
    timeout = settings.SAFETY_MODEL_TIMEOUT_S
    return AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0)


async def safety_model_verdict(prompt: str) -> Verdict:
    """Ask the configured guard model about ``prompt``; ``allow`` without asking when none is configured."""
    model = safety_model_name()
    if not model:
        return Verdict(ALLOW, "no safety model configured")
    _check_not_in_transaction()
    messages = []
    if instructions := settings.SAFETY_MODEL_INSTRUCTIONS.strip():
        messages.append({"role": "system", "content": instructions})
    messages.append({"role": "user", "content": prompt})
    timeout = settings.SAFETY_MODEL_TIMEOUT_S
    client = _client()
    try:
        response = await asyncio.wait_for(
            client.chat.completions.create(model=model, messages=messages, max_tokens=16, temperature=0.0),
            timeout=timeout + 1.0,  # the client's own timeout covers each phase; this bounds the whole call
        )
        reply = (response.choices[0].message.content or "") if response.choices else ""
    except Exception as exc:  # timeout, refused connection, HTTP error, malformed body: fail closed
        log.warning("safety model %s unavailable: %s: %s", model, type(exc).__name__, exc)
        return Verdict(UNAVAILABLE, f"{type(exc).__name__}: {str(exc)[:160]}")
    finally:
        await client.close()
    verdict = parse_verdict(reply)
    if verdict.outcome == UNAVAILABLE:
        log.warning("safety model %s gave an unreadable verdict: %r", model, reply[:200])
    return verdict


def safety_model_verdict_sync(prompt: str) -> Verdict:
    """``safety_model_verdict`` for synchronous callers (the render worker); not for a thread running a loop."""
    if not safety_model_configured():
        return Verdict(ALLOW, "no safety model configured")
    _check_not_in_transaction()
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(safety_model_verdict(prompt))
    raise RuntimeError("safety_model_verdict_sync called on a running event loop: await safety_model_verdict")
