"""How big a persona may be, and the checks other apps add (a persona whose prompt cannot fit is refused).

Every text of a persona travels: into every chat prompt, into ``/api/personas/``
for every user, into card exports. An 18.7 MB card once made that list 14 MB
for everyone and gave a persona whose prompt could never fit the model, so
``Persona.clean()`` (the admin form, card import) enforces:

- ``TEXT_LIMITS``: characters per text field;
- ``LIST_LIMITS``: items and characters per item of the list fields;
- ``JSON_LIMITS``: encoded size of the lorebook and the kept card extensions;
- every registered check (``register_persona_check``): the chat app registers
  "the fixed prompt fits ``CHAT_PROMPT_TOKEN_BUDGET``" (personas imports nothing
  of the chat, so the chat plugs the check in).

Card files themselves are limited in personas.cards (file size, JSON size, pixels).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError

TEXT_LIMITS = {
    "tagline": 200,
    "description": 12_000,
    "personality": 4_000,
    "scenario": 4_000,
    "greeting": 4_000,
    "example_dialogue": 8_000,
    "system_prompt": 6_000,
    "post_history_instructions": 2_000,
    "creator_notes": 4_000,
    "appearance": 2_000,
    "wardrobe": 2_000,
}
LIST_LIMITS = {  # field -> (items, characters per item)
    "alternate_greetings": (20, 4_000),
    "tags": (30, 60),
    "style_tags": (20, 80),
}
JSON_LIMITS = {"character_book": 256 * 1024, "extensions": 64 * 1024}  # bytes of JSON

PersonaCheck = Callable[[Any], None]
_checks: list[PersonaCheck] = []


def register_persona_check(check: PersonaCheck) -> PersonaCheck:
    """Add ``check(persona)``, which raises ValidationError (a field dict or a message) when it refuses."""
    if check not in _checks:
        _checks.append(check)
    return check


def persona_size_errors(persona: Any) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name, limit in TEXT_LIMITS.items():
        value = getattr(persona, name, "") or ""
        if len(value) > limit:
            errors[name] = f"At most {limit:,} characters (this is {len(value):,})."
    for name, (items, chars) in LIST_LIMITS.items():
        value = getattr(persona, name, None) or []
        if not isinstance(value, list):
            continue  # the form / card parser reports the type
        if len(value) > items:
            errors[name] = f"At most {items} entries (this has {len(value)})."
        elif any(isinstance(v, str) and len(v) > chars for v in value):
            errors[name] = f"Each entry is at most {chars:,} characters."
    for name, limit in JSON_LIMITS.items():
        value = getattr(persona, name, None)
        if value in (None, "", {}):
            continue
        size = len(json.dumps(value, ensure_ascii=False).encode())
        if size > limit:
            errors[name] = f"At most {limit // 1024} KB of JSON (this is {size // 1024} KB)."
    return errors


def persona_validate(persona: Any) -> None:
    """Size limits, then every registered check; ValidationError with every problem found."""
    errors = persona_size_errors(persona)
    if errors:
        raise ValidationError(errors)  # checks that read these fields would only repeat the problem
    problems: list[ValidationError] = []
    for check in list(_checks):
        try:
            check(persona)
        except ValidationError as exc:
            problems.append(exc)
    if problems:
        merged: dict[str, list[str]] = {}
        for exc in problems:
            for field, messages in (exc.message_dict if hasattr(exc, "error_dict") else {
                "__all__": exc.messages}).items():
                merged.setdefault(field, []).extend(messages)
        raise ValidationError(merged)


# --- card imports: gates other apps add (the per-user rate limit: companion.accounts) ------------------

ImportGate = Callable[[Any], tuple[str, int] | None]
_import_gates: list[ImportGate] = []


def register_import_gate(gate: ImportGate) -> ImportGate:
    """Add ``gate(user)``: None lets the import through; ``(message, retry_after_s)`` refuses it (HTTP 429)."""
    if gate not in _import_gates:
        _import_gates.append(gate)
    return gate


def card_import_refusal(user: Any) -> tuple[str, int] | None:
    """The first refusal of a registered gate for this user's next card import, or None."""
    for gate in list(_import_gates):
        refusal = gate(user)
        if refusal is not None:
            return refusal
    return None
