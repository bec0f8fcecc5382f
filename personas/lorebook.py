"""Lorebook activation: which entries of a Character Card ``character_book`` fire, and where they go.

(Over 400 lines: one job, activation by the spec's rules; key matching, selective logic,
budget and recursion read best together; the card conversion is lorebook_cards.py.)

Pure (no Django, no database): the chat's prompt assembly and the scene
extractor hand it card-shaped books and the recent messages; it returns the
entries that fired, why, and where each goes. It reads the V2/V3 spec fields
and the SillyTavern ``extensions`` other apps write, so a card behaves as it
did there:

- keys match plain and case-insensitive by default; ``case_sensitive``;
  whole words with ``extensions.match_whole_words``; a key written ``/…/flags``
  is a regular expression (as in SillyTavern), and with V3 ``use_regex`` every
  key is one.
- ``selective`` secondary keys with ``extensions.selectiveLogic``: 0 AND ANY
  (default), 1 NOT ALL, 2 NOT ANY, 3 AND ALL.
- ``constant`` entries always fire; ``enabled: false`` never.
- ``position`` before/after the character definition, or at a depth in the
  history (``extensions.position`` 4 with ``extensions.depth``, or V3's
  ``@@depth N`` decorator).
- ``scan_depth``: how many recent messages are scanned (book, or the entry's
  ``extensions.scan_depth`` / ``@@scan_depth``).
- token budget: the book's ``token_budget`` and the caller's overall budget;
  higher ``priority`` is kept first, ties go to direct hits over recursive ones,
  then to lower ``insertion_order``.
- recursion (``recursive_scanning``): an entry's text may fire others, up to
  ``max_recursion`` steps; ``extensions.exclude_recursion`` (not fired by other
  entries) and ``prevent_recursion`` (its text fires nothing) are honoured.

V3 decorators at the start of ``content`` (``@@activate``, ``@@dont_activate``,
``@@depth``, ``@@scan_depth``, ``@@position``, ``@@additional_keys``,
``@@exclude_keys``) are read and stripped from the inserted text; others are
stripped and ignored.

Cost (bench/lorebook.py, 200 entries that fire each other three levels deep):
4-8 ms per reply on the loaded 2-core dev machine, with its two queries. Each
parsed book indexes its plain keys by their rarest three-character piece, so a
scan tries only entries that can match, and each key is searched once in the
joined messages (its message found by offset), not once per message.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

Position = Literal["before_char", "after_char", "at_depth"]
LOGIC_AND_ANY, LOGIC_NOT_ALL, LOGIC_NOT_ANY, LOGIC_AND_ALL = 0, 1, 2, 3
LOGIC_NAMES = {LOGIC_AND_ANY: "AND ANY", LOGIC_NOT_ALL: "NOT ALL", LOGIC_NOT_ANY: "NOT ANY", LOGIC_AND_ALL: "AND ALL"}
DEFAULT_SCAN_DEPTH = 4  # messages, when neither the book nor the entry says
DEFAULT_DEPTH = 4  # SillyTavern's default depth for "at depth" entries
# SillyTavern's extensions.position: 0 before char, 1 after char, 2/3 author's note top/bottom, 4 at depth
_ST_POSITION = {0: "before_char", 1: "after_char", 2: "after_char", 3: "after_char", 4: "at_depth"}
# How a prepared key matches: a regex (searched in the joined text, or, when it has anchors or looks
# behind, message by message), or a plain needle in the raw or the casefolded text.
_REGEX, _REGEX_LOCAL, _EXACT, _FOLDED = 0, 3, 1, 2
_REGEXES = (_REGEX, _REGEX_LOCAL)
_ANCHORS = re.compile(r"\^|\$|\\A|\\Z|\(\?<")
GRAM = 3  # characters per indexed piece of a key (_grams takes three)
Prepared = tuple[str, int, Any]  # (key as written, kind, compiled pattern or needle)
Gram = tuple[str, str, str]
_DECORATOR = re.compile(r"^@@(\w+)(?:[ \t]+(.*))?$")
_REGEX_KEY = re.compile(r"^/(.+)/([a-z]*)$", re.DOTALL)


@dataclass(frozen=True)
class ScanMessage:
    """One message of the scanned history (newest first when handed to ``lore_activate``)."""

    id: Any
    text: str


@dataclass(frozen=True)
class Entry:
    uid: str  # "<book key>#<index in the book>": shown in the prompt debug view
    name: str
    content: str  # decorators stripped
    keys: tuple[str, ...]
    secondary_keys: tuple[str, ...] = ()
    exclude_keys: tuple[str, ...] = ()
    selective: bool = False
    logic: int = LOGIC_AND_ANY
    constant: bool = False
    never: bool = False  # @@dont_activate
    case_sensitive: bool = False
    whole_words: bool = False
    use_regex: bool = False
    insertion_order: int = 100
    priority: int = 0
    position: Position = "before_char"
    depth: int = DEFAULT_DEPTH
    scan_depth: int | None = None
    exclude_recursion: bool = False
    prevent_recursion: bool = False
    book: str = ""  # the book's key
    _keys: tuple[Prepared, ...] = field(default=(), init=False, repr=False, compare=False)
    _secondary_keys: tuple[Prepared, ...] = field(default=(), init=False, repr=False, compare=False)
    _exclude_keys: tuple[Prepared, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # keys prepared once per parsed book (matching runs on every reply): (key, kind, needle)
        for name in ("keys", "secondary_keys", "exclude_keys"):
            prepared = tuple(_prepare(k, self.case_sensitive, self.use_regex) for k in getattr(self, name))
            object.__setattr__(self, f"_{name}", prepared)


@dataclass(frozen=True)
class Book:
    key: str  # unique among the books of one build ("persona", "world:12")
    name: str
    entries: tuple[Entry, ...]
    scan_depth: int | None = None
    token_budget: int | None = None
    recursive_scanning: bool = False
    # Entries by one GRAM-character piece of each plain key (the piece fewest keys of the book share):
    # a scan tries only entries whose piece is in the text (200 entries x 3 recursion passes, each
    # tried in full, was most of the cost).
    _always: tuple[int, ...] = field(default=(), init=False, repr=False, compare=False)
    _by_gram: dict[int, dict[Gram, list[int]]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        always: list[int] = []
        by_gram: dict[int, dict[Gram, list[int]]] = {_EXACT: {}, _FOLDED: {}}
        shared: dict[Gram, int] = {}
        for entry in self.entries:
            for _, kind, needle in entry._keys:
                if kind not in _REGEXES:
                    for gram in _grams(needle):
                        shared[gram] = shared.get(gram, 0) + 1
        for i, entry in enumerate(self.entries):
            if entry.constant or any(k[1] in _REGEXES or len(k[2]) < GRAM for k in entry._keys):
                always.append(i)
                continue
            for _, kind, needle in entry._keys:
                rarest = min(_grams(needle), key=lambda g: (shared[g], g))
                by_gram[kind].setdefault(rarest, []).append(i)
        object.__setattr__(self, "_always", tuple(always))
        object.__setattr__(self, "_by_gram", by_gram)

    def candidates(self, scan: _Scan) -> list[Entry]:
        """Entries that might fire on ``scan`` (a superset: ``_match`` decides), in book order."""
        found = set(self._always)
        for kind, grams in ((_EXACT, scan.grams_raw), (_FOLDED, scan.grams_folded)):
            index = self._by_gram[kind]
            if index:
                for gram in index.keys() & grams():
                    found.update(index[gram])
        return [self.entries[i] for i in sorted(found)]


@dataclass
class Fired:
    """An entry that fired, why, and whether it fit the budget."""

    entry: Entry
    why: dict[str, Any]  # {"constant": True} | {"key", "message_id", "secondary"?} | {"key", "recursion", "from"}
    step: int = 0  # 0: direct; n: fired by another entry's text at recursion step n
    tokens: int = 0
    included: bool = True
    dropped: str = ""  # "budget" or "book budget" when not included

    def describe(self) -> dict[str, Any]:
        e = self.entry
        out = {"entry": e.uid, "name": e.name, "book": e.book, "position": e.position, "tokens": self.tokens,
               "included": self.included, "why": self.why}
        if e.position == "at_depth":
            out["depth"] = e.depth
        if self.dropped:
            out["dropped"] = self.dropped
        return out


@dataclass
class LoreResult:
    fired: list[Fired] = field(default_factory=list)

    def included(self, position: Position | None = None) -> list[Fired]:
        """Entries that made it into the prompt, in insertion order (lower ``insertion_order`` first)."""
        chosen = [f for f in self.fired if f.included and (position is None or f.entry.position == position)]
        return sorted(chosen, key=lambda f: (f.entry.insertion_order, f.entry.uid))

    def text(self, position: Position) -> str:
        return "\n".join(f.entry.content for f in self.included(position))

    def at_depth(self) -> dict[int, str]:
        """depth -> the text inserted that many messages from the end of the history."""
        by_depth: dict[int, list[str]] = {}
        for f in self.included("at_depth"):
            by_depth.setdefault(f.entry.depth, []).append(f.entry.content)
        return {d: "\n".join(texts) for d, texts in by_depth.items()}

    @property
    def tokens(self) -> int:
        return sum(f.tokens for f in self.fired if f.included)


# --- reading a card-shaped book --------------------------------------------------------------


def as_int(value: Any, default: int | None) -> int | None:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return default


def as_strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    return tuple(s.strip() for s in value if isinstance(s, str) and s.strip())


def split_decorators(content: str) -> tuple[dict[str, str], str]:
    """V3 decorators (``@@name value`` lines at the start of the content) and the text after them."""
    decorators: dict[str, str] = {}
    lines = (content or "").split("\n")
    i = 0
    while i < len(lines):
        m = _DECORATOR.match(lines[i].strip())
        if not m:
            break
        decorators[m.group(1).lower()] = (m.group(2) or "").strip()
        i += 1
    return decorators, "\n".join(lines[i:]).strip()


def entry_from_card(raw: dict[str, Any], *, uid: str, book: str = "") -> Entry | None:
    """An Entry from a card's entry dict, or None when it can never fire (disabled, empty)."""
    if not isinstance(raw, dict) or raw.get("enabled", True) is False:
        return None
    ext = raw.get("extensions") if isinstance(raw.get("extensions"), dict) else {}
    deco, content = split_decorators(str(raw.get("content") or ""))
    if not content:
        return None
    position: Position = "after_char" if raw.get("position") == "after_char" else "before_char"
    st_position = as_int(ext.get("position"), None)
    if st_position in _ST_POSITION:
        position = _ST_POSITION[st_position]  # type: ignore[assignment]
    depth = as_int(ext.get("depth"), DEFAULT_DEPTH)
    if "depth" in deco and as_int(deco["depth"], None) is not None:
        position, depth = "at_depth", as_int(deco["depth"], DEFAULT_DEPTH)
    if deco.get("position") in ("before_desc", "before_char"):
        position = "before_char"
    elif deco.get("position") in ("after_desc", "after_char"):
        position = "after_char"
    logic = as_int(ext.get("selectiveLogic"), LOGIC_AND_ANY)
    keys = as_strings(raw.get("keys") if "keys" in raw else raw.get("key"))
    case_sensitive = raw.get("case_sensitive")
    if case_sensitive is None:
        case_sensitive = ext.get("case_sensitive")
    return Entry(
        uid=uid,
        name=str(raw.get("name") or raw.get("comment") or uid),
        content=content,
        keys=keys + as_strings([k for k in deco.get("additional_keys", "").split(",")]),
        secondary_keys=as_strings(raw.get("secondary_keys")),
        exclude_keys=as_strings([k for k in deco.get("exclude_keys", "").split(",")]),
        selective=bool(raw.get("selective")),
        logic=logic if logic in LOGIC_NAMES else LOGIC_AND_ANY,
        constant=bool(raw.get("constant")) or "activate" in deco,
        never="dont_activate" in deco,
        case_sensitive=bool(case_sensitive),
        whole_words=bool(ext.get("match_whole_words")),
        use_regex=bool(raw.get("use_regex")),
        insertion_order=as_int(raw.get("insertion_order"), 100) or 0,
        priority=as_int(raw.get("priority"), 0) or 0,
        position=position,
        depth=max(0, depth or 0),
        scan_depth=as_int(deco["scan_depth"] if "scan_depth" in deco else ext.get("scan_depth"), None),
        exclude_recursion=bool(ext.get("exclude_recursion")),
        prevent_recursion=bool(ext.get("prevent_recursion")),
        book=book,
    )


def book_from_card(raw: Any, *, key: str) -> Book | None:
    """A Book from a card's ``character_book`` dict (None when there is none); ``key`` names it in uids."""
    if not isinstance(raw, dict):
        return None
    entries = []
    for i, item in enumerate(raw.get("entries") or []):
        entry = entry_from_card(item, uid=f"{key}#{i}", book=key)
        if entry is not None:
            entries.append(entry)
    return Book(
        key=key,
        name=str(raw.get("name") or key),
        entries=tuple(entries),
        scan_depth=as_int(raw.get("scan_depth"), None),
        token_budget=as_int(raw.get("token_budget"), None),
        recursive_scanning=bool(raw.get("recursive_scanning")),
    )


# --- matching ------------------------------------------------------------------------------------
#
# Plain keys are substring tests on casefolded text (str.find runs in C: a case-insensitive regex
# per key was 7 us a search, 13 ms for 200 entries with recursion); whole words check the characters
# either side. Only /regex/ keys (and V3 use_regex) go through the re module.

_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "u": 0, "g": 0, "y": 0}


@lru_cache(maxsize=4096)
def _regex(key: str, case_sensitive: bool, use_regex: bool) -> re.Pattern[str]:
    """The compiled pattern of a ``/…/flags`` key, or of any key under V3 ``use_regex``."""
    m = _REGEX_KEY.match(key)
    try:
        if m and all(c in _FLAGS for c in m.group(2)):
            flags = 0
            for c in m.group(2):
                flags |= _FLAGS[c]
            return re.compile(m.group(1), flags)
        return re.compile(key, 0 if case_sensitive else re.IGNORECASE)
    except re.error:
        return _NEVER


_NEVER = re.compile(r"(?!)")  # a broken pattern matches nothing rather than failing the reply




def _prepare(key: str, case_sensitive: bool, use_regex: bool) -> Prepared:
    if use_regex or _REGEX_KEY.match(key):
        pattern = _regex(key, case_sensitive, use_regex)
        return key, _REGEX_LOCAL if _ANCHORS.search(pattern.pattern) else _REGEX, pattern
    return (key, _EXACT, key) if case_sensitive else (key, _FOLDED, key.casefold())


def _word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def _find(hay: str, needle: str, whole_words: bool) -> int:
    """Where ``needle`` first occurs in ``hay`` (as a whole word if asked), or -1."""
    start = hay.find(needle)
    if not whole_words:
        return start
    while start != -1:
        end = start + len(needle)
        if (start == 0 or not _word_char(hay[start - 1])) and (end == len(hay) or not _word_char(hay[end])):
            return start
        start = hay.find(needle, start + 1)
    return -1


@dataclass(frozen=True)
class _Text:
    raw: str
    folded: str  # casefolded once, for every case-insensitive key

    @classmethod
    def of(cls, text: str) -> _Text:
        return cls(text, text.casefold())


def _hit(prepared: Prepared, text: _Text, whole_words: bool) -> bool:
    return _span(prepared, text, whole_words) is not None


def _span(prepared: Prepared, text: _Text, whole_words: bool) -> tuple[int, int] | None:
    """(start, end) of the key's first match in ``text`` (raw offsets for regexes and exact keys,
    casefolded offsets for the others), or None."""
    _, kind, needle = prepared
    if kind in _REGEXES:
        m = needle.search(text.raw)
        return None if m is None else m.span()
    start = _find(text.raw if kind == _EXACT else text.folded, needle, whole_words)
    return None if start == -1 else (start, start + len(needle))


@dataclass(frozen=True)
class _Scan:
    """The scanned messages, and their text joined once (a plain key is looked for in it first)."""

    ids: tuple[Any, ...]
    texts: tuple[_Text, ...]
    joined: _Text
    raw_starts: tuple[int, ...]  # where each message starts in joined.raw
    folded_starts: tuple[int, ...]  # and in joined.folded (casefolding may change lengths)

    @classmethod
    def of(cls, messages: Sequence[ScanMessage]) -> _Scan:
        texts = tuple(_Text.of(m.text) for m in messages)
        joined = _Text("\n".join(t.raw for t in texts), "\n".join(t.folded for t in texts))
        return cls(tuple(m.id for m in messages), texts, joined,
                   _starts(t.raw for t in texts), _starts(t.folded for t in texts))

    def message_of(self, prepared: Prepared, span: tuple[int, int]) -> int | None:
        """Index of the message a match in the joined text lies in; None when it crosses a boundary."""
        starts = self.folded_starts if prepared[1] == _FOLDED else self.raw_starts
        i = bisect_right(starts, span[0]) - 1
        end = starts[i + 1] - 1 if i + 1 < len(starts) else None
        return i if end is None or span[1] <= end else None

    def grams_raw(self) -> set[str]:
        return _grams(self.joined.raw)

    def grams_folded(self) -> set[str]:
        return _grams(self.joined.folded)


def _starts(texts: Iterable[str]) -> tuple[int, ...]:
    starts, at = [], 0
    for text in texts:
        starts.append(at)
        at += len(text) + 1
    return tuple(starts)


def _grams(text: str) -> set[Gram]:
    return set(zip(text, text[1:], text[2:], strict=False))  # C-speed: a set comprehension of slices was 4x slower


def _first_hit(entry: Entry, keys: Sequence[Prepared], scan: _Scan) -> tuple[str, Any] | None:
    """(key, message id) of the first key found, newest message first."""
    # A plain key absent from the joined text is absent from every message; a regex may use
    # anchors, so it is always tried message by message.
    # Each key is found once in the joined text and its message looked up by offset; a regex with
    # anchors, or a match across two messages, is tried message by message.
    ww = entry.whole_words
    best: tuple[int, int] | None = None  # (message index, key order): newest message, then key order
    for order, key in enumerate(keys):
        where: int | None = None
        if key[1] != _REGEX_LOCAL:
            span = _span(key, scan.joined, ww)
            if span is None:
                continue
            where = scan.message_of(key, span)
        if where is None:
            where = next((i for i, text in enumerate(scan.texts) if _hit(key, text, ww)), None)
            if where is None:
                continue
        if best is None or (where, order) < best:
            best = (where, order)
    if best is None:
        return None
    return keys[best[1]][0], scan.ids[best[0]]


def _secondary_ok(entry: Entry, scan: _Scan) -> tuple[bool, list[str]]:
    if not entry.selective or not entry.secondary_keys:
        return True, []
    hits = [k[0] for k in entry._secondary_keys if any(_hit(k, t, entry.whole_words) for t in scan.texts)]
    n, total = len(hits), len(entry.secondary_keys)
    ok = {
        LOGIC_AND_ANY: n > 0,
        LOGIC_NOT_ALL: n < total,
        LOGIC_NOT_ANY: n == 0,
        LOGIC_AND_ALL: n == total,
    }[entry.logic]
    return ok, hits


def _match(entry: Entry, scan: _Scan) -> dict[str, Any] | None:
    """Why the entry fires on these texts, or None."""
    if entry.never:
        return None
    if entry.constant:
        return {"constant": True}
    hit = _first_hit(entry, entry._keys, scan)
    if hit is None:
        return None
    if entry.exclude_keys and _first_hit(entry, entry._exclude_keys, scan) is not None:
        return None
    ok, secondary = _secondary_ok(entry, scan)
    if not ok:
        return None
    why: dict[str, Any] = {"key": hit[0], "message_id": hit[1]}
    if entry.selective and entry.secondary_keys:
        why["logic"] = LOGIC_NAMES[entry.logic]
        why["secondary"] = secondary
    return why


# --- activation ------------------------------------------------------------------------------------


def lore_activate(
    books: Sequence[Book],
    messages: Sequence[ScanMessage],
    *,
    count_tokens: Callable[[str], int],
    token_budget: int | None = None,
    max_recursion: int = 3,
    default_scan_depth: int = DEFAULT_SCAN_DEPTH,
) -> LoreResult:
    """The entries of ``books`` that ``messages`` (newest first) fire, budgeted.

    ``token_budget`` caps all books together (each book's own ``token_budget``
    applies inside it); ``max_recursion`` bounds how many times fired text is
    scanned again, for books with ``recursive_scanning``.
    """
    fired: dict[str, Fired] = {}
    windows: dict[int, _Scan] = {}
    for book in books:
        book_depth = book.scan_depth if book.scan_depth is not None else default_scan_depth
        deepest = max([book_depth, *(e.scan_depth for e in book.entries if e.scan_depth is not None)])
        for entry in book.candidates(_Scan.of(messages[: max(0, deepest)])):
            depth = max(0, entry.scan_depth if entry.scan_depth is not None else book_depth)
            if depth not in windows:
                windows[depth] = _Scan.of(messages[:depth])
            why = _match(entry, windows[depth])
            if why is not None:
                fired[entry.uid] = Fired(entry, why)

    recursive = [b for b in books if b.recursive_scanning]
    frontier = [f for f in fired.values() if not f.entry.prevent_recursion]
    for step in range(1, max_recursion + 1):
        if not recursive or not frontier:
            break
        sources = _Scan.of([ScanMessage(f.entry.uid, f.entry.content) for f in frontier])
        frontier = []
        for book in recursive:
            for entry in book.candidates(sources):
                if entry.uid in fired or entry.exclude_recursion or entry.constant:
                    continue
                why = _match(entry, sources)
                if why is not None:
                    origin = why.pop("message_id")
                    found = Fired(entry, {**why, "recursion": step, "from": origin}, step=step)
                    fired[entry.uid] = found
                    if not entry.prevent_recursion:
                        frontier.append(found)

    result = LoreResult(fired=list(fired.values()))
    _apply_budget(result, books, count_tokens, token_budget)
    return result


def _apply_budget(
    result: LoreResult, books: Sequence[Book], count_tokens: Callable[[str], int], token_budget: int | None
) -> None:
    # Keep order: higher priority first, then direct hits before recursive ones, then insertion order.
    order = sorted(result.fired, key=lambda f: (-f.entry.priority, f.step, f.entry.insertion_order, f.entry.uid))
    book_budget = {b.key: b.token_budget for b in books if b.token_budget is not None and b.token_budget > 0}
    used_total, used_book = 0, {name: 0 for name in book_budget}
    for f in order:
        f.tokens = count_tokens(f.entry.content)
        name = f.entry.book
        if name in book_budget and used_book[name] + f.tokens > book_budget[name]:
            f.included, f.dropped = False, "book budget"
            continue
        if token_budget is not None and used_total + f.tokens > token_budget:
            f.included, f.dropped = False, "budget"
            continue
        used_total += f.tokens
        if name in used_book:
            used_book[name] += f.tokens
