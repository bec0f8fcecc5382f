"""Sampling for persona replies: one function, every knob from settings or the persona.

The values are tuned on ``bench/chat_quality.py`` for the packaged 135M model
(bench/README.md, "Chat quality"): a short reply budget the caller trims to
whole sentences, ``min_p`` to cut the long tail where the glyph debris and
off-topic words come from, a mild repetition penalty against loops, and stop
strings so the model never writes the user's lines. Temperature stays per
persona (``Persona.temperature``), scaled by ``CHAT_TEMPERATURE_SCALE`` and
capped by ``CHAT_MAX_TEMPERATURE``: the packaged model recalled planted facts
far more often at a third of the usual temperatures (bench/README.md), while
the personas keep their relative liveliness. Set the scale to 1 for a bigger
model.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.conf import settings

from companion.chat.reply_cleaning import stop_strings
from companion.llm.base import SamplingParams


def sampling_for(persona: Any, *, user_name: str, persona_name: str, seed: int | None) -> SamplingParams:
    """The sampling for one reply of ``persona`` to ``user_name`` (``seed``: record it on the reply)."""
    temperature = float(getattr(persona, "temperature", 0.8) or 0.0)
    return SamplingParams(
        temperature=min(temperature * settings.CHAT_TEMPERATURE_SCALE, settings.CHAT_MAX_TEMPERATURE),
        top_p=settings.CHAT_TOP_P,
        min_p=settings.CHAT_MIN_P,
        repetition_penalty=settings.CHAT_REPETITION_PENALTY,
        max_tokens=settings.CHAT_REPLY_MAX_TOKENS,
        stop=stop_strings(user_name=user_name, persona_name=persona_name),
        seed=seed,
    )


def sampling_for_retry(params: SamplingParams, *, seed: int) -> SamplingParams:
    """The second try after a reply failed review: a fresh seed and at least
    ``CHAT_RETRY_MIN_TEMPERATURE``. At the scaled-down temperatures most failed
    first tries had repeated an earlier reply, and a second try at the same
    temperature mostly repeated it again (bench/README.md)."""
    temperature = max(params.temperature, min(settings.CHAT_RETRY_MIN_TEMPERATURE, settings.CHAT_MAX_TEMPERATURE))
    return replace(params, seed=seed, temperature=temperature)
