"""What a question asks for: the parts to retrieve separately, and the time it is about.

Pure functions, no ORM. :func:`plan` turns one question into

* ``parts``: the question itself, plus one sub-question per person when it
  names two or more ("What do Caroline and Melanie both like?" → "What does
  Caroline like?" / "… Melanie …") and one per clause when it joins two
  questions ("Where did Ada go and what did she buy?");
* and, for a question asking for several things ("What activities has Mira
  done…"), the question without its plural noun ("What has Mira done…");
* ``window``: the time it names ("last week", "in May", "on 8 May 2023"),
  against the reference time (the conversation's latest message);
* ``anchor``: for "before/after X" and "N days before X", the phrase X, whose
  own date retrieval looks up first (``retrieval.search``) to place the window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from companion.memory import dates

_CAPS_SKIP = frozenset(
    "What Who Whom Whose How When Where Why Which Did Do Does Is Are Was Were Has Have Had Can Could Would Should "
    "Will I The A An And Or Tell Remind Name List Both Between In On At Last Next This My Your Our Their His Her "
    "Any Some Since Before After During".split()
) | {m.capitalize() for m in dates.MONTHS} | {d.capitalize() for d in dates.WEEKDAYS}
_NAME = r"[A-Z][\w'-]+"
_JOINED = re.compile(rf"\b({_NAME}(?:\s*,\s*{_NAME})*(?:,)?\s+(?:and|or|&)\s+{_NAME})\b")
_CLAUSE_SPLIT = re.compile(
    r"\s*(?:,\s*)?\b(?:and|but|also)\s+(?=(?:what|who|where|when|why|how|which|did|does|do|is|are|was|were|has|"
    r"have)\b)", re.I)
_ANCHOR = re.compile(
    rf"\b(?:(?P<n>{dates._NUM_RE})\s+(?P<unit>day|week|month|year)s?\s+)?(?P<rel>before|after|since|prior to)\s+"
    r"(?P<phrase>(?:the|her|his|my|our|their|your|a|an)?\s*[\w' -]{3,60}?)(?=[?.!,]|$)",
    re.I,
)


@dataclass
class QueryPlan:
    query: str
    parts: list[str]
    window: dates.Window | None = None
    anchor: str = ""  # "before/after <anchor>": find its date first
    relation: str = ""  # "before" | "after"
    span_days: float = 0.0  # "two days before X": 2
    names: list[str] = field(default_factory=list)

    def describe(self) -> dict:
        return {
            "parts": self.parts,
            "window": None if self.window is None else {
                "start": self.window.start.isoformat(), "end": self.window.end.isoformat(), "text": self.window.text},
            "anchor": self.anchor or None,
            "relation": self.relation or None,
        }


def names_in(query: str, known: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Capitalised words that name someone: the known speakers, and other capitalised words mid-question."""
    out: list[str] = []
    for m in re.finditer(_NAME, query):
        word = m.group(0).rstrip("'s").rstrip("'")
        if word in _CAPS_SKIP or word in out:
            continue
        if word in known or m.start() > 0:
            out.append(word)
    return out


def _agree(part: str) -> str:
    """"What do Caroline like" → "What does Caroline like" after a split."""
    return re.sub(r"\b(do)\s+(?=[A-Z])", "does ", re.sub(r"\b(are)\s+(?=[A-Z]\w+\s)", "is ", part), count=1)


def _split_people(query: str, known: set[str]) -> list[str]:
    m = _JOINED.search(query)
    if not m:
        return []
    people = [p for p in re.split(r"\s*(?:,|\band\b|\bor\b|&)\s*", m.group(1)) if p]
    people = [p for p in people if p not in _CAPS_SKIP]
    if len(people) < 2:
        return []
    rest = query[: m.start()] + "{}" + query[m.end():]
    rest = re.sub(r"\bboth\b\s*", "", rest)
    rest = re.sub(r"\b(each other|one another)\b", "each other", rest)
    return [_agree(rest.format(p)) for p in people]


_LIST_HEAD = re.compile(r"\s*(in\s+)?(?:what|which)\s+(?:(?:kinds?|types?|sorts?)\s+of\s+)?([a-z]+)\b", re.I)
_NOT_PLURAL = frozenset({"is", "was", "does", "has", "this", "makes", "gives", "his", "its"})


def list_question(query: str) -> bool:
    """A question asking for several things: a plural noun right after what/which ("What activities…",
    "In what ways…", "Which cities…")."""
    m = _LIST_HEAD.match(query)
    word = m.group(2).lower() if m else ""
    return len(word) > 3 and word.endswith("s") and word not in _NOT_PLURAL


def _without_list_noun(query: str) -> list[str]:
    """The list question without its plural noun ("What activities has Mira done with her family?" →
    "What has Mira done with her family?"; "In what ways is…" → "How is…"): the answers name
    instances ("we went camping"), never the noun, and the lines that do say it are about the list,
    not in it."""
    if not list_question(query):
        return []
    m = _LIST_HEAD.match(query)
    head = "How" if m.group(1) or m.group(2).lower() == "ways" else "What"
    return [head + query[m.end():]]


def _split_clauses(query: str) -> list[str]:
    pieces = [p.strip(" ,") for p in _CLAUSE_SPLIT.split(query) if p and p.strip(" ,")]
    pieces = [p for p in pieces if len(re.findall(r"\w+", p)) >= 3]
    return pieces if len(pieces) >= 2 else []


def plan(query: str, *, reference: datetime | None, known_names: set[str] | frozenset[str] = frozenset()
         ) -> QueryPlan:
    query = (query or "").strip()
    parts = [query]
    for extra in (*_without_list_noun(query), *_split_people(query, set(known_names)), *_split_clauses(query)):
        if extra and extra not in parts:
            parts.append(extra)
    out = QueryPlan(query=query, parts=parts[:5], names=names_in(query, known_names))
    m = _ANCHOR.search(query)
    if m and not dates.relative_spans(m.group("phrase"), anchor=reference or datetime.now()):
        out.anchor = m.group("phrase").strip()
        out.relation = "before" if m.group("rel").lower() in ("before", "prior to") else "after"
        if m.group("n"):
            n = dates._count(m.group("n"))
            out.span_days = n * {"day": 1, "week": 7, "month": 30, "year": 365}[m.group("unit").lower()]
    elif reference is not None:
        out.window = dates.query_window(query, reference=reference)
    return out


def window_around(anchor_time: datetime, *, relation: str, span_days: float) -> dates.Window:
    """The window "N days before/after" an anchor's date (a month either side when N is not given)."""
    if span_days:
        day = anchor_time + timedelta(days=span_days if relation == "after" else -span_days)
        return dates.Window(day - timedelta(days=1), day + timedelta(days=1), f"{relation} (±1 day)")
    if relation == "after":
        return dates.Window(anchor_time, anchor_time + timedelta(days=45), "after")
    return dates.Window(anchor_time - timedelta(days=45), anchor_time, "before")
