"""A persona whose fixed prompt can never fit the chat budget is refused when it is saved or imported.

The prompt builder (companion.chat.prompt) always keeps the persona card and
the post-history instructions and fills what is left of
``CHAT_PROMPT_TOKEN_BUDGET`` with the conversation. A card of several MB left
no room at all: every reply was the card plus one truncated turn. This check
(registered with personas.limits, so the admin form and card import both run
it) refuses a persona unless ``CHAT_PROMPT_MIN_HISTORY_TOKENS`` remain, and
says how much to cut. Tokens are counted by the configured chat backend; when
it cannot count (a server down), the check is skipped rather than blocking the
admin.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from companion.accounts.models import DISPLAY_NAME_MAX_CHARS
from companion.chat.prompt import TURN_OVERHEAD_TOKENS, apply_macros, persona_card_text
from companion.llm.registry import get_backend

log = logging.getLogger(__name__)

_LONGEST_USER_NAME = "W" * DISPLAY_NAME_MAX_CHARS  # {{user}} as the longest display name allowed


def persona_fixed_prompt_tokens(persona: Any, *, count: Any) -> int:
    """Tokens of the part of every prompt that is the persona's: card (system turn) and post-history."""
    card = persona_card_text(persona, user_name=_LONGEST_USER_NAME)
    post = apply_macros((persona.post_history_instructions or "").strip(), char=persona.name, user=_LONGEST_USER_NAME)
    return count(card) + TURN_OVERHEAD_TOKENS + (count(post) + TURN_OVERHEAD_TOKENS if post else 0)


def persona_prompt_fits(persona: Any) -> None:
    """ValidationError (non-field) when the fixed prompt leaves less than CHAT_PROMPT_MIN_HISTORY_TOKENS."""
    budget = settings.CHAT_PROMPT_TOKEN_BUDGET
    room = settings.CHAT_PROMPT_MIN_HISTORY_TOKENS
    try:
        used = persona_fixed_prompt_tokens(persona, count=get_backend().count_tokens)
    except Exception:  # the backend cannot count right now: do not block the admin on it
        log.warning("could not count the prompt tokens of persona %r; prompt-fit check skipped", persona.name,
                    exc_info=True)
        return
    if used + room > budget:
        raise ValidationError(
            f"This persona's fixed prompt (system prompt, description, personality, scenario, example "
            f"dialogue and post-history instructions) is {used:,} tokens, and the chat prompt budget "
            f"(CHAT_PROMPT_TOKEN_BUDGET) is {budget:,} tokens with at least {room:,} kept for the "
            f"conversation. Shorten those fields by about {used + room - budget:,} tokens.",
            code="prompt_too_long",
        )
