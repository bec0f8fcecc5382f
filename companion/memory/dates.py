"""Dates: parse what imports carry, resolve relative time in text, find time windows in questions.

Pure functions, no ORM. Three uses:

* :func:`parse_datetime` reads a message's date as chat exports write it:
  ISO 8601, epoch seconds or milliseconds, SillyTavern's shapes
  ("January 5, 2024 3:04pm", "2024-1-5 @15h 04m 05s 123ms") and the usual
  human ones ("1:56 pm on 8 May, 2023", "8 May 2023", "May 8, 2023 13:56",
  "2023/05/08"), in any order of date and time. A date without a time is
  taken at noon; a naive value is in the project's time zone.
* :func:`relative_spans` finds "yesterday", "last week", "two days ago",
  "next month", "on Saturday", "in May", "8 May 2023"… in a sentence and
  resolves each against the date the sentence was said, so a fact stored
  from "I went to the support group yesterday" carries the day it happened.
* :func:`query_window` turns the time words of a question into a window
  (``start``, ``end``) against a reference time — the conversation's latest
  message, never today, so an old imported chat is asked about in its own time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

MONTHS = {
    name: i + 1
    for i, names in enumerate([
        ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
        ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
        ("october", "oct"), ("november", "nov"), ("december", "dec"),
    ])
    for name in names
}
MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December"]
WEEKDAYS = {d: i for i, d in enumerate(["monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                                        "sunday"])}
NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "couple": 2, "a couple of": 2, "a few": 3, "few": 3,
    "several": 3,
}
_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
_NUM_RE = r"\d{1,3}|a couple of|a few|several|" + "|".join(k for k in NUMBER_WORDS if " " not in k)

_ST_FORMATS = (
    "%B %d, %Y %I:%M%p",
    "%B %d, %Y %I:%M %p",
    "%Y-%m-%d @%Hh %Mm %Ss %fms",
    "%Y-%m-%d@%Hh%Mm%Ss",
    "%Y-%m-%d %H:%M:%S",
)


def _aware(value: datetime) -> datetime:
    return timezone.make_aware(value, timezone.get_default_timezone()) if timezone.is_naive(value) else value


def _year(text: str) -> int:
    y = int(text)
    return y + 2000 if y < 100 else y


def parse_datetime(value: Any) -> datetime | None:
    """The moment an exported message was sent; None when the value says no date."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if re.fullmatch(r"\d{9,14}(\.\d+)?", text):
        return parse_datetime(float(text))
    try:
        return _aware(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        pass
    for fmt in _ST_FORMATS:
        try:
            return _aware(datetime.strptime(text, fmt))
        except ValueError:
            continue
    return _parse_loose(text)


_TIME = re.compile(
    r"\b(\d{1,2})(?:(?::|h\s?)(\d{2})m?)?(?:(?::|m\s?)(\d{2})s?)?(?:\s*(?:s\s*)?\d{1,3}\s*ms)?\s*([ap])\.?\s?m\b\.?"
    r"|\b(\d{1,2})(?::|h\s?)(\d{2})(?:(?::|m\s?)(\d{2}))?",
    re.I,
)
_YMD = re.compile(r"\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\b")
_DMY = re.compile(r"\b(\d{1,2})[-/.](\d{1,2})[-/.](\d{2,4})\b")
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+({_MONTH_RE})\.?\b,?(?:\s+(\d{{4}}))?", re.I)
_MONTH_DAY = re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?!:),?(?:\s+(\d{{4}}))?", re.I)
_MONTH_YEAR = re.compile(rf"\b({_MONTH_RE})\.?,?\s+(\d{{4}})\b", re.I)


def _parse_loose(text: str) -> datetime | None:
    """Find a date and a time anywhere in ``text`` ("1:56 pm on 8 May, 2023")."""
    day_part: date | None = None
    rest = text
    for pattern, order in ((_YMD, "ymd"), (_DAY_MONTH, "dmy"), (_MONTH_DAY, "mdy"), (_DMY, "dmy#")):
        m = pattern.search(rest)
        if not m:
            continue
        try:
            if order == "ymd":
                day_part = date(int(m[1]), int(m[2]), int(m[3]))
            elif order == "dmy":
                if not m[3]:
                    continue
                day_part = date(int(m[3]), MONTHS[m[2].lower()], int(m[1]))
            elif order == "mdy":
                if not m[3]:
                    continue
                day_part = date(int(m[3]), MONTHS[m[1].lower()], int(m[2]))
            else:  # numeric d/m/y or m/d/y: month first unless that cannot be
                a, b, y = int(m[1]), int(m[2]), _year(m[3])
                day_part = date(y, a, b) if a <= 12 and not (b <= 12 < a) else date(y, b, a)
        except (ValueError, KeyError):
            continue
        rest = rest[: m.start()] + " " + rest[m.end():]
        break
    if day_part is None:
        m = _MONTH_YEAR.search(text)
        if not m:
            return None
        day_part, rest = date(int(m[2]), MONTHS[m[1].lower()], 1), text.replace(m[0], " ")
    clock = time(12, 0)
    m = _TIME.search(rest)
    if m:
        try:
            if m[4]:
                hour, minute, second = int(m[1]) % 12 + (12 if m[4].lower() == "p" else 0), int(m[2] or 0), int(
                    m[3] or 0)
            else:
                hour, minute, second = int(m[5]), int(m[6]), int(m[7] or 0)
            clock = time(hour, minute, second)
        except ValueError:
            pass
    return _aware(datetime.combine(day_part, clock))


# --- relative time in text -----------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """A time expression found in a text, resolved to [start, end) and how precise it is."""

    text: str
    start: datetime
    end: datetime
    unit: str  # "day" | "week" | "weekend" | "month" | "year"

    def label(self) -> str:
        s = timezone.localtime(self.start) if timezone.is_aware(self.start) else self.start
        if self.unit == "day":
            return f"{s.day} {MONTH_NAMES[s.month - 1]} {s.year}"
        if self.unit in ("week", "weekend"):
            return f"the {self.unit} of {s.day} {MONTH_NAMES[s.month - 1]} {s.year}"
        if self.unit == "month":
            return f"{MONTH_NAMES[s.month - 1]} {s.year}"
        return str(s.year)


def _day(anchor: datetime, offset_days: int = 0) -> tuple[datetime, datetime]:
    local = timezone.localtime(anchor) if timezone.is_aware(anchor) else anchor
    start = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=offset_days)
    return start, start + timedelta(days=1)


def _week(anchor: datetime, offset_weeks: int = 0) -> tuple[datetime, datetime]:
    start, _ = _day(anchor, -(timezone.localtime(anchor) if timezone.is_aware(anchor) else anchor).weekday())
    start += timedelta(weeks=offset_weeks)
    return start, start + timedelta(weeks=1)


def _month(year: int, month: int, tz_from: datetime) -> tuple[datetime, datetime]:
    while month < 1:
        month, year = month + 12, year - 1
    while month > 12:
        month, year = month - 12, year + 1
    tz = tz_from.tzinfo
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
    return start, end


def _count(word: str) -> int:
    word = word.lower().strip()
    return int(word) if word.isdigit() else NUMBER_WORDS.get(word, 1)


_RELATIVE = re.compile(
    r"\b(?:(?P<yesterday>yesterday|last night)|(?P<today>today|tonight|this (?:morning|afternoon|evening))"
    r"|(?P<tomorrow>tomorrow)"
    rf"|(?P<n>{_NUM_RE})\s+(?P<nunit>day|week|month|year)s?\s+(?P<dir>ago|before|earlier|later|from now)"
    rf"|in\s+(?P<fn>{_NUM_RE})\s+(?P<funit>day|week|month|year)s?\b"
    r"|(?P<which>last|this|next|past)\s+(?P<unit>week(?:end)?|month|year|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|" + _MONTH_RE + r")"
    r"|(?:on\s+)?(?P<weekday>monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
    r"|(?P<dm>\d{1,2})(?:st|nd|rd|th)?(?:\s+of)?\s+(?P<dmm>" + _MONTH_RE + r")\b\.?,?(?:\s+(?P<dmy>\d{4}))?"
    r"|(?P<md>" + _MONTH_RE + r")\s+(?P<mdd>\d{1,2})(?:st|nd|rd|th)?\b(?!:),?(?:\s+(?P<mdy>\d{4}))?"
    r"|(?:in|during|since|by|of|early|late|mid)\s+(?P<month>" + _MONTH_RE + r")\b(?:,?\s+(?P<my>\d{4}))?"
    r"|\b(?:in|since|during)\s+(?P<year>(?:19|20)\d{2})"
    r")\b",
    re.I,
)


def relative_spans(text: str, *, anchor: datetime) -> list[Span]:
    """Every time expression in ``text``, resolved against ``anchor`` (when it was said)."""
    out: list[Span] = []
    for m in _RELATIVE.finditer(text or ""):
        g = {k: v for k, v in m.groupdict().items() if v}
        if any(g.get(k) in ("may", "march") for k in ("unit", "month", "dmm", "md")):
            continue  # the verbs, not the months ("this may help", "in march step")
        try:
            span = _resolve(g, anchor)
        except (ValueError, OverflowError):
            span = None
        if span is not None:
            out.append(Span(m.group(0).strip(), *span))
    return out


def _resolve(g: dict[str, str], anchor: datetime) -> tuple[datetime, datetime, str] | None:
    local = timezone.localtime(anchor) if timezone.is_aware(anchor) else anchor
    if "yesterday" in g:
        return (*_day(anchor, -1), "day")
    if "today" in g:
        return (*_day(anchor), "day")
    if "tomorrow" in g:
        return (*_day(anchor, 1), "day")
    if "n" in g or "fn" in g:
        n = _count(g.get("n") or g.get("fn", "1"))
        unit = (g.get("nunit") or g.get("funit", "day")).lower()
        sign = 1 if ("fn" in g or g.get("dir", "").lower() in ("later", "from now")) else -1
        if unit == "day":
            return (*_day(anchor, sign * n), "day")
        if unit == "week":
            return (*_week(anchor, sign * n), "week")
        if unit == "month":
            return (*_month(local.year, local.month + sign * n, local), "month")
        return (*_month(local.year + sign * n, 1, local)[:1], _month(local.year + sign * n + 1, 1, local)[0], "year")
    if "which" in g:
        which, unit = g["which"].lower(), g["unit"].lower()
        step = {"last": -1, "past": -1, "this": 0, "next": 1}[which]
        if unit == "week":
            return (*_week(anchor, step), "week")
        if unit == "weekend":
            start, _ = _week(anchor, step if which != "last" or local.weekday() >= 5 else -1)
            start = start + timedelta(days=5)
            if which == "last" and start >= _day(anchor)[0]:
                start -= timedelta(weeks=1)
            return start, start + timedelta(days=2), "weekend"
        if unit == "month":
            return (*_month(local.year, local.month + step, local), "month")
        if unit == "year":
            return (*_month(local.year + step, 1, local)[:1], _month(local.year + step + 1, 1, local)[0], "year")
        if unit in WEEKDAYS:
            delta = (local.weekday() - WEEKDAYS[unit]) % 7
            if step < 0:
                delta = delta or 7
                return (*_day(anchor, -delta), "day")
            ahead = (WEEKDAYS[unit] - local.weekday()) % 7 or 7
            return (*_day(anchor, ahead if step > 0 else -delta), "day")
        month = MONTHS[unit]
        year = local.year + (step if step else 0)
        if step < 0 and month >= local.month:
            year = local.year - 1
        elif step < 0:
            year = local.year
        return (*_month(year, month, local), "month")
    if "weekday" in g:
        delta = (local.weekday() - WEEKDAYS[g["weekday"].lower()]) % 7
        return (*_day(anchor, -delta), "day")  # "on Saturday": the last one (past is what people report)
    if "dm" in g or "md" in g:
        day = int(g.get("dm") or g.get("mdd"))
        month = MONTHS[(g.get("dmm") or g.get("md")).lower()]
        year = int(g.get("dmy") or g.get("mdy") or local.year)
        start = datetime(year, month, day, tzinfo=local.tzinfo)
        return start, start + timedelta(days=1), "day"
    if "month" in g:
        month = MONTHS[g["month"].lower()]
        if g.get("my"):
            year = int(g["my"])
        else:  # the nearest one: "in June" said in May is next month, asked in August it is this year's
            year = min((local.year - 1, local.year, local.year + 1),
                       key=lambda y: abs((y - local.year) * 12 + month - local.month))
        return (*_month(year, month, local), "month")
    if "year" in g:
        year = int(g["year"])
        return datetime(year, 1, 1, tzinfo=local.tzinfo), datetime(year + 1, 1, 1, tzinfo=local.tzinfo), "year"
    return None


def mentions_time(text: str) -> bool:
    return bool(_RELATIVE.search(text or ""))


def annotate(text: str, *, anchor: datetime) -> tuple[str, list[Span]]:
    """``text`` with each relative expression followed by its date: "yesterday (7 May 2023)"."""
    spans = [s for s in relative_spans(text, anchor=anchor) if not re.fullmatch(r"[\d\s,a-z]*\d{4}", s.text, re.I)]
    if not spans:
        return text, []
    out, pos = [], 0
    for m in _RELATIVE.finditer(text):
        found = next((s for s in spans if s.text == m.group(0).strip()), None)
        if found is None:
            continue
        out.append(text[pos:m.end()])
        out.append(f" ({found.label()})")
        pos = m.end()
    out.append(text[pos:])
    return "".join(out), spans


def date_label(value: datetime) -> str:
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return f"{local.day} {MONTH_NAMES[local.month - 1]} {local.year}"


def date_tokens(value: datetime) -> list[str]:
    """What the lexical index gets for a date: month name and year (days are too common a number)."""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return [MONTH_NAMES[local.month - 1].lower(), str(local.year)]


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    text: str


def query_window(query: str, *, reference: datetime) -> Window | None:
    """The time a question asks about ("last week", "in May", "on 8 May 2023"), against ``reference``."""
    spans = relative_spans(query, anchor=reference)
    if not spans:
        return None
    # Several expressions ("between May and June"): their hull.
    return Window(min(s.start for s in spans), max(s.end for s in spans), " / ".join(s.text for s in spans))
