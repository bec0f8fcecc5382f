"""Real people: named, nicknamed, initialled ("T. Swift") or evoked ("looks like …").

The list is data: ``data/real_people.txt`` (packaged; its header explains the
format), extended by operators with ``RENDER_REAL_PEOPLE_FILE`` (more files in
that format, comma-separated paths) and ``RENDER_REAL_PERSON_NAMES`` (full
names).  Every file is re-read when its modification time changes.

A likeness phrase ("looks like", "lookalike of", "resembling", "in the style
of", "dressed as", "se parece a", "похожа на", …) followed by any listed
surname, or by a capitalised given name + surname that is not on the list
("looks like Jane Doemann"), also names a real person.
"""

# ruff: noqa: RUF001  (look-alike letters are the subject of this module)

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from rendering.safety.normalise import fold, text_views

DATA_DIR = Path(__file__).resolve().parent / "data"
PACKAGED_LIST = DATA_DIR / "real_people.txt"
FIRST_NAMES = DATA_DIR / "first_names.txt"

_B = r"(?<![^\W_])"  # a Unicode-aware word start
_E = r"(?![^\W_])"  # and end


@functools.cache
def first_names() -> frozenset[str]:
    words: set[str] = set()
    for line in FIRST_NAMES.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            words.update(fold(w).lower() for w in line.split())
    return frozenset(words)


@dataclass(frozen=True)
class RealPerson:
    name: str
    aliases: tuple[str, ...] = ()
    exact_aliases: tuple[str, ...] = ()  # must appear capitalised as written

    @property
    def surname(self) -> str:
        return _tokens(self.name)[-1] if _tokens(self.name) else ""


def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[\s.\-_'’·・]+", fold(name).lower()) if t]


def _key(text: str) -> str:
    return re.sub(r"[\W_]+", "", fold(text).lower())


def parse_people(text: str) -> list[RealPerson]:
    people = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip() if line.lstrip().startswith("#") else line.strip()
        if not line:
            continue
        name, *aliases = [part.strip() for part in line.split("|")]
        if not name:
            continue
        people.append(RealPerson(
            name=name,
            aliases=tuple(a for a in aliases if a and not a.startswith("^")),
            exact_aliases=tuple(a[1:].strip() for a in aliases if a.startswith("^") and a[1:].strip()),
        ))
    return people


def _extra_files() -> tuple[str, ...]:
    value = settings.RENDER_REAL_PEOPLE_FILE
    paths = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(p.strip() for p in paths if p and p.strip())


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return -1.0


@dataclass(frozen=True)
class _Matcher:
    by_key: dict[str, RealPerson]
    by_surname: dict[str, RealPerson]
    loose: list[re.Pattern]  # per person, any case
    anchors: dict[str, list[int]]  # a word prefix -> indexes into ``loose`` that can only match near it
    substring_anchors: list[tuple[str, list[int]]]  # for scripts without spaces (CJK)
    exact: re.Pattern | None  # capitalised as written
    after_likeness: re.Pattern | None

    def candidates(self, view: str) -> list[re.Pattern]:
        """The per-person patterns worth running on ``view`` (one regex of 1,000 alternatives is slow)."""
        low = view.lower()
        found: set[int] = set()
        longest = max((len(a) for a in self.anchors), default=0)
        for word in set(re.findall(r"[^\W_]+", low)):
            for k in range(1, min(len(word), longest) + 1):
                if (ids := self.anchors.get(word[:k])) is not None:
                    found.update(ids)
        for anchor, ids in self.substring_anchors:
            if anchor in low:
                found.update(ids)
        return [self.loose[i] for i in sorted(found)]


_LIKENESS = (
    r"(?:looks?|looking|looked)\s+(?:just\s+|exactly\s+|a\s+lot\s+|a\s+bit\s+|so\s+much\s+|very\s+much\s+|almost\s+"
    r"|uncannily\s+|eerily\s+|identical(?:ly)?\s+)*like|look[\s-]?alikes?(?:\s+of)?|resembl(?:e|es|ed|ing|ance\s+to)"
    r"|in\s+the\s+(?:likeness|image|style|manner|look)\s+of|with\s+the\s+(?:face|likeness|body|features|looks)\s+of"
    r"|(?:the\s+)?spitting\s+image\s+of|doppelg[aä]ngers?\s+(?:of|for)|(?:dressed|made\s+up|done\s+up)\s+(?:up\s+)?as"
    r"|disguised\s+as|cosplay(?:ing|s|ed)?(?:\s+as)?|posing\s+as|impersonat(?:e|es|ing|ion\s+of)|playing\s+the\s+"
    r"(?:role|part)\s+of|a\s+(?:double|clone|twin)\s+of|as\s+played\s+by|modell?ed\s+(?:on|after)|based\s+on"
    r"|inspired\s+by|styled\s+(?:like|after)|a\s+dead\s+ringer\s+for|the\s+twin\s+of|channell?ing|deepfake\s+of"
    r"|a\s+(?:younger|older|female|male)\s+version\s+of|as\s+the\s+(?:real|famous|actor|actress|singer|rapper|"
    r"president|politician|athlete|influencer|streamer)|parecid[ao]s?\s+a|se\s+parece\s+a|igualit[ao]\s+a"
    r"|ressembl(?:e|ant)\s+a|sieht\s+(?:genau\s+)?aus\s+wie|ahnelt|aehnelt|somiglia(?:nte)?\s+a|parece\s+(?:com|o|a)"
    r"|похож(?:а|ий|ая|е)?\s+на|像|そっくり|似た|닮은"
)
_STRONG_LIKENESS = (
    r"(?:looks?|looking|looked)\s+(?:just\s+|exactly\s+|a\s+lot\s+|a\s+bit\s+|so\s+much\s+|very\s+much\s+|almost\s+"
    r"|uncannily\s+|eerily\s+|identical(?:ly)?\s+)*like|look[\s-]?alikes?(?:\s+of)?|resembl(?:e|es|ed|ing|ance\s+to)"
    r"|in\s+the\s+(?:likeness|image)\s+of|with\s+the\s+(?:face|likeness|body|features)\s+of|(?:the\s+)?spitting\s+"
    r"image\s+of|doppelg[aä]ngers?\s+(?:of|for)|impersonat(?:e|es|ing|ion\s+of)|a\s+(?:double|clone|twin)\s+of"
    r"|a\s+dead\s+ringer\s+for|deepfake\s+of|in\s+the\s+style\s+of|dressed\s+(?:up\s+)?as"
)
_GENERIC_RE = re.compile(
    rf"(?i:\b(?:{_STRONG_LIKENESS}))\s+(?:(?i:a\s+young|young|the\s+real|the\s+actress|the\s+actor|the\s+singer)\s+)?"
    rf"(?P<first>[A-Z][a-z'’]+)\s+(?P<last>(?:(?:de|da|van|von|del|di|le|la|du|mc|o')\s*)?[A-Z][\w'’\-]+)"
)
# "Lincoln Memorial", "Trump Tower", "Lennon Wall", "Nelson's Column": a place or thing named after someone.
_PLACE_AFTER_RE = re.compile(
    r"^(?:'s|’s|s')?[\s-]+(?:tower|memorial|monument|cent(?:er|re)|square|street|st|avenue|ave|road|rd|boulevard|blvd"
    r"|bridge|park|airport|station|hall|library|museum|wall|building|hotel|stadium|arena|circle|island|foundation"
    r"|presidential|university|college|school|high|theat(?:re|er)|line|olympic|harbou?r|plaza|gardens?|dam|highway"
    r"|expressway|tunnel|field|heights|beach|lake|falls|institute|prize|award|market|column|house|opera|estate"
    r"|center|collection|gallery|quarter|district|county|drive|lane|way|terrace|place|mall|pier|port|bay|river"
    r"|mountain|mount|peak|glacier|national|state|memorial|statue|stamp|coin|effect|era|administration|doctrine"
    r"|day|holiday|sound|terminal|hospital|hospice|clinic|charity|fund|trust|bros|bagels?|cafe|restaurant)\b",
    re.I,
)
_NOT_SURNAMES = {"and", "or", "with", "in", "at", "on", "the", "a", "an", "who", "when", "while", "as", "but", "from",
                 "for", "to", "of", "by", "is", "was", "has", "had", "did", "does", "would", "could", "wearing"}


def _name_pattern(person: RealPerson) -> list[str]:
    tokens = _tokens(person.name)
    if not tokens:
        return []
    sep = r"[\s.\-_'’·・]*"
    patterns = [_B + sep.join(re.escape(t) for t in tokens) + _E]
    if len(tokens) >= 2 and len(tokens[-1]) >= 4:
        first, last = re.escape(tokens[0]), re.escape(tokens[-1])
        patterns.append(rf"(?<![\w'’]){re.escape(tokens[0][0])}(?:\.\s*|\s+|-){last}{_E}")  # "T. Swift"
        middle = r"(?:(?!(?:and|or|with|the|of|from|to|by|meets?|y|et|und|e|vs)\b)[^\W\d_]+\.?\s+){1,2}"
        patterns.append(rf"{_B}{first}\s+{middle}{last}{_E}")  # "Taylor Alison Swift"
        patterns.append(rf"{_B}{last},\s*{first}{_E}")  # "Swift, Taylor"
    for alias in person.aliases:
        alias_tokens = _tokens(alias)
        if not alias_tokens:
            continue
        sep = r"[\s.\-_'’·・]*"
        body = sep.join(re.escape(t) for t in alias_tokens)
        if alias_tokens[0][0].isascii():
            patterns.append(_B + body + r"(?:'s|’s|s)?" + _E)  # "Obama's", "the Obamas"
        elif re.match(r"[\u0400-\u04ff]", alias_tokens[0]):  # Russian inflects names: "Путина", "Обамой"
            patterns.append(_B + body + r"\w{0,3}" + _E)
        else:  # CJK: no spaces between words
            patterns.append(body)
    return patterns


@functools.lru_cache(maxsize=8)
def _build(files: tuple[tuple[str, float], ...], extra_names: tuple[str, ...]) -> _Matcher:
    people: list[RealPerson] = []
    for path, _mt in files:
        try:
            people += parse_people(Path(path).read_text(encoding="utf-8"))
        except OSError:
            if path != str(PACKAGED_LIST):
                raise
    people += [RealPerson(name=n.strip()) for n in extra_names if n and n.strip()]
    by_key: dict[str, RealPerson] = {}
    by_surname: dict[str, RealPerson] = {}
    loose: list[re.Pattern] = []
    anchors: dict[str, list[int]] = {}
    substring: dict[str, list[int]] = {}
    exact: list[str] = []
    for person in people:
        tokens = _tokens(person.name)
        if not tokens:
            continue
        by_key.setdefault("".join(tokens), person)
        if len(tokens) >= 2:
            by_key.setdefault(tokens[0][0] + tokens[-1], person)
            if len(tokens[-1]) >= 3:
                by_surname.setdefault(tokens[-1], person)
        for alias in (*person.aliases, *person.exact_aliases):
            by_key.setdefault(_key(alias), person)
        index = len(loose)
        loose.append(re.compile("|".join(f"(?:{p})" for p in _name_pattern(person)), re.I))
        for word in {tokens[0], tokens[-1], *(t[0] for a in person.aliases if (t := _tokens(a)))}:
            if word[0].isascii() or re.match(r"[\u0400-\u04ff]", word):
                anchors.setdefault(word, []).append(index)
            else:
                substring.setdefault(word[:2], []).append(index)
        exact += [_B + re.escape(fold(a)) + _E for a in person.exact_aliases]

    def compile_(parts: list[str], flags: int) -> re.Pattern | None:
        return re.compile("|".join(f"(?:{p})" for p in parts), flags) if parts else None

    surnames = "|".join(sorted((re.escape(s) for s in by_surname), key=len, reverse=True))
    after = re.compile(rf"(?:{_LIKENESS})\s+(?:the\s+)?(?:\w+\s+)?(?P<s>{surnames}){_E}", re.I) if surnames else None
    return _Matcher(by_key, by_surname, loose, anchors, list(substring.items()), compile_(exact, 0), after)


def matcher() -> _Matcher:
    files = [str(PACKAGED_LIST), *_extra_files()]
    extra = settings.RENDER_REAL_PERSON_NAMES
    if isinstance(extra, str):
        extra = extra.split(",")
    return _build(tuple((f, _mtime(f)) for f in files), tuple(extra))


@dataclass(frozen=True)
class Found:
    person: str  # the canonical name (or the name as written, for someone not on the list)
    phrase: str  # what matched in the text
    listed: bool


def _person_for(m: _Matcher, phrase: str) -> RealPerson | None:
    key = _key(phrase)
    if key in m.by_key:
        return m.by_key[key]
    for person in m.by_key.values():  # leetspeak/alias variants: compare by tokens
        if _key(person.name) == key:
            return person
    return None


def find_people(text: str) -> list[Found]:
    """Every real person named or evoked in ``text`` (no allow-list applied)."""
    m = matcher()
    found: list[Found] = []
    seen: set[str] = set()

    def add(person: str, phrase: str, listed: bool) -> None:
        if person.lower() not in seen:
            seen.add(person.lower())
            found.append(Found(person, phrase, listed))

    for view in text_views(text):
        for regex in (*m.candidates(view), m.exact):
            if regex is None:
                continue
            for hit in regex.finditer(view):
                if _PLACE_AFTER_RE.match(view[hit.end():hit.end() + 30]):
                    continue
                person = _person_for(m, hit.group(0))
                add(person.name if person else hit.group(0), hit.group(0), True)
        if m.after_likeness is not None:
            for hit in m.after_likeness.finditer(view):
                person = m.by_surname.get(fold(hit.group("s")).lower())
                if person is not None:
                    add(person.name, hit.group(0), True)
        for hit in _GENERIC_RE.finditer(view):
            first, last = hit.group("first"), hit.group("last")
            if fold(first).lower() not in first_names() or last.lower() in _NOT_SURNAMES:
                continue
            if _PLACE_AFTER_RE.match(view[hit.end():hit.end() + 30]) or _PLACE_AFTER_RE.match(" " + last):
                continue
            add(f"{first} {last}", hit.group(0), False)
    return found


def name_is_real_person(name: str) -> RealPerson | None:
    """The listed person a persona or character name is (full name or alias), if any."""
    m = matcher()
    for view in text_views(name):
        for regex in (*m.candidates(view), m.exact):
            if regex is not None and (hit := regex.search(view)):
                return _person_for(m, hit.group(0)) or RealPerson(name=hit.group(0))
    return None
