"""The content safety gate, run before anything is queued.

Refuses beats that describe minors, beats that name or evoke a real person
without that person's recorded consent, and personas that are a real likeness
without consent.  Lexicons use word boundaries and small exception lists so
ordinary words ("baby blue", "minor detail", "kidding", "thirteen-storey")
pass.  Every refusal is written to ``SafetyRefusal`` and logged.
"""

from __future__ import annotations

import logging
import re
import unicodedata

from django.conf import settings

from personas.models import Persona, Provenance
from rendering.beat import SceneBeat

log = logging.getLogger(__name__)

ADULT_AGE = 18

MINOR_MESSAGE = "I can't create a scene that involves a minor. Every character on screen must be an adult."
REAL_PERSON_MESSAGE = (
    "I can't create a scene showing a real person without their recorded consent. "
    "Describe a fictional character instead."
)
LIKENESS_MESSAGE = (
    "This persona is based on a real person's likeness and has no recorded consent, so it can't be rendered."
)


class RenderRefused(Exception):
    """The request was refused by the safety gate; ``reason`` is safe to show the user."""

    def __init__(self, reason: str, *, rule: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.rule = rule


# --- minors ------------------------------------------------------------------
_MINOR_WORDS = (
    r"child|children|kid|kids|kiddo|kiddie|minors|teen|teens|teenager|teenagers|teenage|preteen|pre-teen|tween|tweens"
    r"|underage|under-age|schoolgirl|schoolgirls|schoolboy|schoolboys|toddler|toddlers|infant|infants|newborn"
    r"|newborns|babies|loli|lolis|lolita|lolicon|shota|shotacon|jailbait|prepubescent|pubescent|adolescent"
    r"|adolescents|juvenile|juveniles|kindergartener|kindergartner|grade-schooler|middle-schooler|high-schooler"
)
_MINOR_WORD_RE = re.compile(rf"\b(?:{_MINOR_WORDS})\b(?!\s+(?:gloves?|leather|goat)\b)", re.IGNORECASE)
# "minor" is only a person as a noun: "she is a minor." / "a minor girl", not "a minor detail".
_MINOR_NOUN_RE = re.compile(
    r"\bminor\b(?=\s*(?:[.,;:!?)\"']|$|\s+(?:girl|boy|child|character|who|wearing|in|at|with|and)\b))", re.IGNORECASE
)
# "baby" as a person ("holding a baby"), not a colour, food or term of endearment ("baby blue", "oh baby").
_BABY_RE = re.compile(
    r"\b(?:a|the|her|his|their|our|newborn|crying|sleeping|little)\s+baby\b"
    r"(?!\s*[-\s](?:blue|pink|yellow|grand|carrots?|spinach|shower|steps?|back|oil|powder|face[d]?|doll)\b)",
    re.IGNORECASE,
)
_YOUNG_PERSON_RE = re.compile(r"\b(?:little|young)\s+(?:girls?|boys?)\b", re.IGNORECASE)

_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
          "sixteen seventeen eighteen nineteen").split()
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_NUMBER = rf"\d{{1,3}}|(?:(?:{'|'.join(_TENS)})[-\s]?)?(?:{'|'.join(_UNITS)})|{'|'.join(_TENS)}"
_AGE_RES = (
    re.compile(
        rf"(?<![\w-])({_NUMBER})[-\s]+(?:(?:years?|yrs?)[-\s]+old|yo|y/o)\b"
        r"(?!\s+(?:whiske?y|scotch|bourbon|rum|cognac|brandy|wine|port|cheese|tree|oak|house|building|car)s?\b)",
        re.IGNORECASE,
    ),
    re.compile(
        rf"\b(?:aged?|age of)\s+({_NUMBER})\b(?!\s*(?:years?|months?|weeks?|days?|hours?|minutes?)\b)",
        re.IGNORECASE,
    ),
)


def _number_value(text: str) -> int | None:
    text = text.lower().strip()
    if text.isdigit():
        return int(text)
    total = 0
    for part in re.split(r"[-\s]+", text):
        if part in _TENS:
            total += _TENS[part]
        elif part in _UNITS:
            total += _UNITS.index(part)
        else:
            return None
    return total


def find_minor_reference(text: str) -> str | None:
    """The phrase that makes ``text`` describe a minor, or None."""
    for pattern in (_MINOR_WORD_RE, _MINOR_NOUN_RE, _BABY_RE, _YOUNG_PERSON_RE):
        if m := pattern.search(text):
            return m.group(0)
    for pattern in _AGE_RES:
        for m in pattern.finditer(text):
            age = _number_value(m.group(1))
            if age is not None and age < ADULT_AGE:
                return m.group(0)
    return None


# --- real people -------------------------------------------------------------
_NAME_WORD = r"[A-ZÀ-Þ][\w'\-]+"
_NAME_RE_PART = rf"({_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}})"
_LIKENESS_RES = (
    # The trigger phrases are case-insensitive; the name after them must be capitalised.
    re.compile(rf"\b(?i:(?:in|with) the (?:likeness|face) of)\s+{_NAME_RE_PART}"),
    re.compile(rf"\b(?i:(?:looks?|looking) (?:just |exactly )?like)\s+{_NAME_RE_PART}"),
    re.compile(rf"\b(?i:resembl(?:es|ing|e))\s+{_NAME_RE_PART}"),
    re.compile(rf"\b(?i:(?:dressed|disguised|cosplaying|posing|made up) as)\s+{_NAME_RE_PART}"),
    re.compile(rf"\b(?i:impersonat(?:es|ing|e)|playing the role of|a lookalike of|a double of)\s+{_NAME_RE_PART}"),
    re.compile(rf"\b(?i:as the (?:real|famous|actor|actress|singer|rapper|president|politician))\s+{_NAME_RE_PART}"),
)
_NOT_NAMES = {
    "i", "it", "the", "a", "an", "she", "he", "they", "we", "you", "this", "that", "her", "his", "someone", "god",
}


def _fold(text: str) -> str:
    """Case- and accent-insensitive comparison form ("Beyoncé" == "beyonce")."""
    text = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).casefold().split())


def _contains_name(text: str, name: str) -> bool:
    folded, target = _fold(text), _fold(name)
    return bool(target) and re.search(rf"(?<!\w){re.escape(target)}(?!\w)", folded) is not None


def find_real_person(text: str, *, allowed_names: list[str]) -> str | None:
    """A real person named or evoked in ``text`` who is not one of ``allowed_names``."""
    allowed = {_fold(n) for n in allowed_names if n.strip()}
    allowed |= {part for n in allowed for part in n.split()}  # first names of the cast are fine too
    for name in getattr(settings, "RENDER_REAL_PERSON_NAMES", []):
        if _fold(name) not in allowed and _contains_name(text, name):
            return name
    for pattern in _LIKENESS_RES:
        for m in pattern.finditer(text):
            name = m.group(1)
            folded = _fold(name)
            if folded in _NOT_NAMES or folded.split()[0] in _NOT_NAMES or folded in allowed:
                continue
            return name
    return None


# --- the gate ----------------------------------------------------------------
def check_render_allowed(*, persona: Persona, beat: SceneBeat) -> None:
    """Raise RenderRefused when the persona or the beat may not be rendered."""
    real_name = persona.real_person_name.strip()
    if persona.provenance == Provenance.CONSENTED_LIKENESS or real_name:
        if not persona.has_consent_for_likeness:
            raise RenderRefused(LIKENESS_MESSAGE, rule="likeness_without_consent")

    text = beat.text_for_safety()
    if phrase := find_minor_reference(text):
        raise RenderRefused(MINOR_MESSAGE, rule=f"minor:{phrase}")

    allowed = [persona.name, *(c.name for c in beat.characters)]
    if real_name and persona.has_consent_for_likeness:
        allowed.append(real_name)
    if name := find_real_person(text, allowed_names=allowed):
        raise RenderRefused(REAL_PERSON_MESSAGE, rule=f"real_person:{name}")


def render_safety_gate(*, persona: Persona, beat: SceneBeat, requested_by, source: str) -> None:
    """Check, and on refusal record it for the admin before re-raising."""
    from rendering.models import SafetyRefusal  # models import beat; keep this module importable alone

    try:
        check_render_allowed(persona=persona, beat=beat)
    except RenderRefused as refused:
        SafetyRefusal.objects.create(
            persona=persona,
            requested_by=requested_by if getattr(requested_by, "pk", None) else None,
            source=source,
            reason=f"{refused.rule}: {refused.reason}",
            beat=beat.model_dump(mode="json"),
        )
        log.warning("render refused for persona %s (%s) source=%s", persona.pk, refused.rule, source)
        raise
