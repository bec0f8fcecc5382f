"""Persona reply sampling: persona temperature (capped), the tuned settings, stop strings, the seed."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from companion.chat.sampling import sampling_for, sampling_for_retry


def test_sampling_takes_the_persona_temperature_the_settings_and_the_seed(settings):
    settings.CHAT_REPLY_MAX_TOKENS, settings.CHAT_TOP_P, settings.CHAT_MIN_P = 64, 0.9, 0.05
    settings.CHAT_REPETITION_PENALTY, settings.CHAT_MAX_TEMPERATURE = 1.15, 0.9
    settings.CHAT_TEMPERATURE_SCALE = 1.0
    params = sampling_for(SimpleNamespace(temperature=0.55), user_name="Sam", persona_name="Mira", seed=1234)
    assert (params.temperature, params.top_p, params.min_p) == (0.55, 0.9, 0.05)
    assert (params.repetition_penalty, params.max_tokens, params.seed) == (1.15, 64, 1234)
    assert "\nSam:" in params.stop and "**Sam:" in params.stop and "\nMira:" in params.stop


def test_temperature_is_capped_for_the_tiny_model(settings):
    settings.CHAT_MAX_TEMPERATURE, settings.CHAT_TEMPERATURE_SCALE = 0.9, 1.0
    params = sampling_for(SimpleNamespace(temperature=1.6), user_name="Sam", persona_name="Mira", seed=None)
    assert params.temperature == 0.9 and params.seed is None


def test_temperature_scale_keeps_the_personas_apart(settings):
    settings.CHAT_MAX_TEMPERATURE, settings.CHAT_TEMPERATURE_SCALE = 0.9, 0.4
    calm, lively = (
        sampling_for(SimpleNamespace(temperature=t), user_name="Sam", persona_name="Mira", seed=1).temperature
        for t in (0.5, 1.0)
    )
    assert (calm, lively) == pytest.approx((0.2, 0.4))


def test_the_retry_gets_a_new_seed_and_a_livelier_temperature(settings):
    settings.CHAT_TEMPERATURE_SCALE, settings.CHAT_MAX_TEMPERATURE, settings.CHAT_RETRY_MIN_TEMPERATURE = 0.4, 0.9, 0.7
    first = sampling_for(SimpleNamespace(temperature=0.8), user_name="Sam", persona_name="Mira", seed=1)
    retry = sampling_for_retry(first, seed=2)
    assert (retry.seed, retry.temperature) == (2, 0.7)
    assert (retry.stop, retry.max_tokens, retry.min_p) == (first.stop, first.max_tokens, first.min_p)
    hot = sampling_for_retry(sampling_for(SimpleNamespace(temperature=3.0), user_name="Sam", persona_name="Mira",
                                          seed=1), seed=3)
    assert hot.temperature == 0.9  # never above the cap
