"""What to remember from one exchange: the LLM schema and the deterministic rules.

Two sources propose memory operations:

* the chat model, through ``complete_json`` with :class:`ExtractionResult` as
  the schema (schema-constrained decoding, then pydantic validation);
* :func:`extract_rules`, a handful of regular expressions over the user's
  message ("my name is…", "I like…", "don't call me…", "I no longer…").

The rules are the safety net: they always run, they only ever touch memories
by *slot* (a normalised key such as ``name`` or ``likes:tea``), and the
reconciler (``reconciler.py``) only lets the model delete a memory when the
user's message actually retracts something. Pure functions, no ORM.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

Kind = Literal["fact", "preference", "event", "milestone", "boundary"]

# --- the schema the model must fill ------------------------------------------------


class MemoryOp(BaseModel):
    """One reconciliation step, mem0-style."""

    op: Literal["ADD", "UPDATE", "DELETE", "NONE"]
    id: int | None = Field(default=None, description="Existing memory id for UPDATE/DELETE")
    text: str | None = Field(default=None, max_length=300, description="Memory text for ADD/UPDATE")
    kind: Kind = "fact"
    importance: float = Field(default=0.5, ge=0.0, le=1.0)


class ExtractionResult(BaseModel):
    ops: list[MemoryOp] = Field(default_factory=list, max_length=8)
    # How this exchange moves the relationship; clamped again by the caller.
    affinity_delta: float = Field(default=0.0, ge=-0.2, le=0.2)
    trust_delta: float = Field(default=0.0, ge=-0.2, le=0.2)


# --- deterministic rules ---------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A memory the rules want stored (or, with ``retract``, forgotten)."""

    slot: str
    text: str
    kind: str
    importance: float
    retract: bool = False


RETRACTION_CUES = re.compile(
    r"\b(no longer|not anymore|any ?more|actually|used to|changed my mind|not true|"
    r"forget (that|it|what)|i was wrong|scratch that|correction|i lied|that'?s wrong|"
    r"don'?t (like|love|live|work)|stopped)\b",
    re.I,
)

_FIRST_TO_THIRD = {
    "i": "they", "me": "them", "my": "their", "mine": "theirs", "myself": "themselves",
    "i'm": "they're", "im": "they're", "i've": "they've", "i'll": "they'll", "i'd": "they'd",
    "am": "are", "was": "was", "we": "they", "our": "their", "us": "them",
}
_NOT_IDENTITY = {
    "bit", "little", "lot", "fan", "sucker", "mess", "wreck", "big", "huge", "total", "good", "bad", "great",
}
_STOP = {"the", "a", "an", "to", "of", "and", "it", "that", "this", "so", "very", "really", "much", "too", "lot"}

_SENT_SPLIT = re.compile(r"(?<=[.!?;])\s+|\n+")
# Case-sensitive inside re.I patterns: a name starts with a capital ("Sam and" -> "Sam").
_NAME = r"((?-i:[A-Z][\w'-]{0,30}(?:\s[A-Z][\w'-]{0,30})?))"
_CLAUSE_END = r"(?=\s*(?:[.!?,;]|\bbut\b|\band\b|\bbecause\b|$))"


def third_person(text: str) -> str:
    """'my cat' -> 'their cat': stored memories talk about the user."""
    words = re.split(r"(\W+)", text.strip())
    return "".join(_FIRST_TO_THIRD.get(w.lower(), w) if w.isalpha() or "'" in w else w for w in words)


def normalise(text: str) -> str:
    words = [w for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in _STOP]
    return " ".join(words)[:80]


def _clean(phrase: str) -> str:
    return phrase.strip(" .,!?;:\"'").strip()


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT_SPLIT.split(text or "") if s.strip()]


def _rules_for_sentence(s: str) -> list[Candidate]:
    out: list[Candidate] = []
    low = s.lower()
    negated_now = bool(re.search(r"\b(no longer|not anymore|any ?more|stopped|used to|quit)\b", low))

    # Names and what (not) to be called.
    m = re.search(r"\bdon'?t call me\s+" + _NAME, s, re.I)
    if m:
        name = _clean(m.group(1))
        out.append(Candidate(f"boundary:call:{name.lower()}", f"The user does not want to be called {name}.",
                             "boundary", 0.9))
    else:
        m = re.search(r"\b(?:my name is|my name's|call me|i'm called|i am called)\s+" + _NAME, s, re.I)
        if m and not re.search(r"\bnot\b", low[: m.start() + 12]):
            name = _clean(m.group(1))
            out.append(Candidate("name", f"The user's name is {name}.", "fact", 0.9))

    # Boundaries the user sets.
    m = re.search(r"\b(?:please\s+)?(?:don'?t|do not|never)\s+(ask|talk|mention|bring up)\s+(?:me\s+)?(?:about\s+)?"
                  r"(.+?)" + _CLAUSE_END, s, re.I)
    if m and "call me" not in low:
        topic = _clean(m.group(2))
        if topic:
            out.append(Candidate(f"boundary:{normalise(topic)}",
                                 f"The user asked not to {m.group(1).lower()} about {third_person(topic)}.",
                                 "boundary", 0.9))

    # Preferences: like / love / hate, and retractions of them.
    m = re.search(r"\bi (?:really |totally |absolutely )?(?:no longer |don'?t |do not |stopped )?"
                  r"(like|love|enjoy|adore|hate|dislike|can'?t stand|detest)\s+(.+?)" + _CLAUSE_END, s, re.I)
    if m:
        verb, obj = m.group(1).lower(), _clean(m.group(2))
        obj_key = normalise(re.sub(r"\s+any ?more$", "", obj, flags=re.I))
        if obj_key and obj_key not in {"you", "it", "that", "this"}:
            head = low[: m.start(1)]
            negated = bool(re.search(r"\b(no longer|don'?t|do not|stopped)\s*$", head)) or "anymore" in low
            positive = verb in {"like", "love", "enjoy", "adore"}
            obj_text = third_person(re.sub(r"\s+any ?more$", "", obj, flags=re.I))
            if negated and positive:
                # "I don't like X (anymore)": the old liking is retracted, the dislike recorded.
                out.append(Candidate(f"likes:{obj_key}", "", "preference", 0.0, retract=True))
                if "anymore" not in low and "no longer" not in low and "stopped" not in low:
                    out.append(Candidate(f"likes:{obj_key}", f"The user does not like {obj_text}.",
                                         "preference", 0.6))
            elif positive:
                word = "loves" if verb in {"love", "adore"} else "likes"
                out.append(Candidate(f"likes:{obj_key}", f"The user {word} {obj_text}.", "preference", 0.6))
            else:
                out.append(Candidate(f"likes:{obj_key}", f"The user dislikes {obj_text}.", "preference", 0.6))

    m = re.search(r"\bmy fav(?:ou?rite)? ([\w ]{2,30}?) (?:is|are) (.+?)" + _CLAUSE_END, s, re.I)
    if m:
        what, value = _clean(m.group(1)).lower(), _clean(m.group(2))
        out.append(Candidate(f"favorite:{normalise(what)}", f"The user's favourite {what} is {third_person(value)}.",
                             "preference", 0.7))

    # Work and identity.
    m = re.search(r"\bi (?:no longer |don'?t |do not )?(?:work|am working) as (?:an? )?(.+?)" + _CLAUSE_END, s, re.I)
    if m:
        job = _clean(m.group(1))
        if negated_now or re.search(r"\b(don'?t|do not|no longer) (work|am working)\b", low):
            out.append(Candidate("occupation", "", "fact", 0.0, retract=True))
        else:
            article = "an" if job[:1].lower() in "aeiou" else "a"
            out.append(Candidate("occupation", f"The user works as {article} {job}.", "fact", 0.8))
    else:
        m = re.search(r"\b(?:i'm|i am) (?:an? )((?:[\w-]+ ){0,2}[\w-]+)" + _CLAUSE_END, s, re.I)
        if m and m.group(1).split()[0].lower() not in _NOT_IDENTITY and not negated_now:
            what = _clean(m.group(1))
            article = "an" if what[:1].lower() in "aeiou" else "a"
            out.append(Candidate(f"identity:{normalise(what)}", f"The user is {article} {what}.", "fact", 0.7))

    # Places.
    m = re.search(r"\bi (?:no longer |don'?t |do not )?(?:live|am living|'m living) in (.+?)" + _CLAUSE_END, s, re.I)
    if m:
        if negated_now or re.search(r"\bdon'?t live\b", low):
            out.append(Candidate("location", "", "fact", 0.0, retract=True))
        else:
            out.append(Candidate("location", f"The user lives in {_clean(m.group(1))}.", "fact", 0.8))
    m = re.search(r"\b(?:i'm|i am|i come) from (.+?)" + _CLAUSE_END, s, re.I)
    if m:
        out.append(Candidate("hometown", f"The user is from {_clean(m.group(1))}.", "fact", 0.7))

    # Dates and the people/animals in their life.
    m = re.search(r"\bmy birthday is (?:on )?(.+?)" + _CLAUSE_END, s, re.I)
    if m:
        out.append(Candidate("birthday", f"The user's birthday is {_clean(m.group(1))}.", "fact", 0.9))
    m = re.search(r"\bi have (?:an? |two |three )?([\w ]{2,30}?) (?:named|called) " + _NAME, s, re.I)
    if m:
        what, name = _clean(m.group(1)), _clean(m.group(2))
        if negated_now:
            out.append(Candidate(f"has:{name.lower()}", "", "fact", 0.0, retract=True))
        else:
            out.append(Candidate(f"has:{name.lower()}", f"The user has a {what} named {name}.", "fact", 0.8))
    m = re.search(r"\bmy (wife|husband|partner|girlfriend|boyfriend|sister|brother|mom|mother|dad|father|son|"
                  r"daughter|best friend|dog|cat)(?:'s name)? is (?:called |named )?" + _NAME, s, re.I)
    if m:
        who, name = m.group(1).lower(), _clean(m.group(2))
        out.append(Candidate(f"relation:{who}", f"The user's {who} is {name}.", "fact", 0.8))

    # Events: things that happened to the user.
    m = re.search(r"\b(?:today|yesterday|last (?:night|week|weekend|month|year)|this (?:morning|week)|"
                  r"i just|i finally|i recently)\b[, ]*(?:i )?(.{6,160}?)" + r"(?=\s*[.!?]|$)", s, re.I)
    if m and re.search(r"\b(i|i've|i'm|we)\b", low) and not low.rstrip().endswith("?"):
        text = third_person(_clean(s))
        text = text[0].upper() + text[1:]
        out.append(Candidate(f"event:{normalise(s)[:60]}", f"The user said: {text}.", "event", 0.6))
    return out


def extract_rules(text: str) -> list[Candidate]:
    """Deterministic candidates from the user's message (later ones win per slot)."""
    found: dict[tuple[str, bool, str], Candidate] = {}
    for s in sentences(text):
        if s.rstrip().endswith("?") and not re.search(r"\b(my name is|call me|don'?t call)\b", s, re.I):
            continue  # questions are not statements about the user
        for c in _rules_for_sentence(s):
            found[(c.slot, c.retract, c.text)] = c
    return list(found.values())


def has_retraction_cue(text: str) -> bool:
    return bool(RETRACTION_CUES.search(text or ""))


# --- sentiment cues for the relationship --------------------------------------------

_POSITIVE = re.compile(
    r"\b(thank(s| you)|love (you|this|that|it|talking)|you'?re (the best|amazing|sweet|great|kind)|"
    r"appreciate|happy|glad|awesome|wonderful|miss(ed)? you|haha|lol|hugs?|<3|sweet|cute|"
    r"i trust you|means a lot)\b|[:;]-?\)|❤|😊|🥰",
    re.I,
)
_NEGATIVE = re.compile(
    r"\b(hate you|shut up|stupid|idiot|annoying|go away|leave me alone|you'?re (useless|boring|dumb|rude|mean)|"
    r"i'?m (angry|mad|upset) (at|with) you|screw you|whatever|disappointed in you|you never listen|ugh)\b",
    re.I,
)
_APOLOGY = re.compile(r"\b(sorry|apologi[sz]e|forgive me|my bad|i didn'?t mean( it)?|let'?s make up)\b", re.I)
_DISCLOSURE = re.compile(
    r"\b(i feel|i'?m (scared|afraid|worried|lonely|sad|anxious)|never told anyone|secret|honestly|to be honest|"
    r"i trust you)\b",
    re.I,
)


@dataclass(frozen=True)
class Sentiment:
    positive: int
    negative: int
    apology: bool
    disclosure: bool


def sentiment(text: str) -> Sentiment:
    return Sentiment(
        positive=len(_POSITIVE.findall(text or "")),
        negative=len(_NEGATIVE.findall(text or "")),
        apology=bool(_APOLOGY.search(text or "")),
        disclosure=bool(_DISCLOSURE.search(text or "")),
    )
