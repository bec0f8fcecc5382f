"""A card's ``character_book`` <-> lorebook rows, losing nothing.

An entry row keeps the card's entry dict as it came (``raw``) next to the
columns the admin edits. Export starts from ``raw`` and writes back only the
columns whose value differs from what ``raw`` says, so an untouched entry
leaves exactly as it arrived (unknown fields, ``extensions``, value types, key
order), and an edited one carries the edit. The same overlay writes the
SillyTavern extensions that decide activation (``position``/``depth``,
``selectiveLogic``, ``match_whole_words``), which is where other apps read them.
"""

from __future__ import annotations

import copy
from typing import Any

from .lorebook import LOGIC_NAMES, as_int, as_strings

ENTRY_COLUMNS = (
    "extensions",  # first: the writers below edit inside it
    "keys", "secondary_keys", "content", "enabled", "constant", "selective", "selective_logic", "case_sensitive",
    "whole_words", "use_regex", "insertion_order", "priority", "position", "depth", "name", "comment",
)  # fmt: skip
_POSITION_CODE = {"before_char": 0, "after_char": 1, "at_depth": 4}
_CODE_POSITION = {0: "before_char", 1: "after_char", 2: "after_char", 3: "after_char", 4: "at_depth"}
# what a new entry (made in the admin or the API, with no card behind it) starts from: the V2/V3 required fields
NEW_ENTRY = {"keys": [], "content": "", "extensions": {}, "enabled": True, "insertion_order": 100}
BOOK_FIELDS = ("name", "description", "scan_depth", "token_budget", "recursive_scanning", "extensions")


def _bool_or_none(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def card_entry_columns(raw: dict[str, Any]) -> dict[str, Any]:
    """Column values for a card entry dict (the reading export compares against)."""
    ext = raw.get("extensions") if isinstance(raw.get("extensions"), dict) else {}
    position = "after_char" if raw.get("position") == "after_char" else "before_char"
    code = as_int(ext.get("position"), None)
    if code in _CODE_POSITION:
        position = _CODE_POSITION[code]
    logic = as_int(ext.get("selectiveLogic"), 0)
    depth = as_int(ext.get("depth"), None)
    return {
        "extensions": copy.deepcopy(ext),
        "keys": list(as_strings(raw.get("keys") if "keys" in raw else raw.get("key"))),
        "secondary_keys": list(as_strings(raw.get("secondary_keys"))),
        "content": str(raw.get("content") or ""),
        "enabled": raw.get("enabled", True) is not False,
        "constant": bool(raw.get("constant")),
        "selective": bool(raw.get("selective")),
        "selective_logic": logic if logic in LOGIC_NAMES else 0,
        "case_sensitive": _bool_or_none(raw.get("case_sensitive")),
        "whole_words": _bool_or_none(ext.get("match_whole_words")),
        "use_regex": bool(raw.get("use_regex")),
        "insertion_order": as_int(raw.get("insertion_order"), 100),
        "priority": as_int(raw.get("priority"), None),
        "position": position,
        "depth": depth if depth is None or depth >= 0 else None,
        "name": str(raw.get("name") or ""),
        "comment": str(raw.get("comment") or ""),
    }


def _write(out: dict[str, Any], column: str, value: Any) -> None:
    ext = out.setdefault("extensions", {})
    if column == "extensions":
        out["extensions"] = copy.deepcopy(value if isinstance(value, dict) else {})
    elif column == "position":
        out["position"] = "after_char" if value == "after_char" else "before_char"
        ext["position"] = _POSITION_CODE.get(value, 0)
    elif column == "depth":
        _set(ext, "depth", value)
    elif column == "selective_logic":
        ext["selectiveLogic"] = value
    elif column == "whole_words":
        _set(ext, "match_whole_words", value)
    else:
        _set(out, column, value)


def _set(target: dict[str, Any], key: str, value: Any) -> None:
    if value is None:
        target.pop(key, None)
    else:
        target[key] = value


def entry_to_card(entry: Any) -> dict[str, Any]:
    """The card entry dict for a row (anything with LoreEntry's attributes)."""
    raw = entry.raw if isinstance(entry.raw, dict) and entry.raw else None
    out = copy.deepcopy(raw) if raw is not None else copy.deepcopy(NEW_ENTRY)
    before = card_entry_columns(out)
    for column in ENTRY_COLUMNS:
        value = getattr(entry, column)
        if value != before[column]:
            _write(out, column, value)
    if raw is None and getattr(entry, "pk", None) is not None:
        out.setdefault("id", entry.pk)
    return out


def entry_rows_from_card(book: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Keyword arguments for a LoreEntry per entry of a card's book (raw and sort included)."""
    if not isinstance(book, dict):
        return []
    rows = []
    for i, raw in enumerate(book.get("entries") or []):
        if isinstance(raw, dict):
            rows.append({**card_entry_columns(raw), "raw": copy.deepcopy(raw), "sort": i})
    return rows


def book_settings(book: dict[str, Any] | None) -> dict[str, Any] | None:
    """The book without its entries (what Persona.character_book keeps); None for no book."""
    if not isinstance(book, dict):
        return None
    return {k: copy.deepcopy(v) for k, v in book.items() if k != "entries"}


def book_to_card(settings: dict[str, Any] | None, entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A card's ``character_book`` from settings and entry dicts (None when neither exists)."""
    if settings is None and not entries:
        return None
    return {**(settings or {}), "entries": entries}


def world_book_to_card(book: Any, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """A world book (Lorebook row) in the card's ``character_book`` shape."""
    out: dict[str, Any] = copy.deepcopy(book.extra or {})
    for name in BOOK_FIELDS:
        value = getattr(book, name)
        if value is not None:
            out[name] = copy.deepcopy(value)
    out["entries"] = entries
    return out


def world_book_columns(raw: dict[str, Any]) -> dict[str, Any]:
    """Lorebook column values from a ``character_book``-shaped dict (unknown fields under ``extra``)."""
    scan_depth, token_budget = as_int(raw.get("scan_depth"), None), as_int(raw.get("token_budget"), None)
    return {
        "name": str(raw.get("name") or "World book")[:200],
        "description": str(raw.get("description") or ""),
        "scan_depth": scan_depth if scan_depth is not None and scan_depth >= 0 else None,
        "token_budget": token_budget if token_budget is not None and token_budget >= 0 else None,
        "recursive_scanning": bool(raw.get("recursive_scanning")),
        "extensions": copy.deepcopy(raw["extensions"]) if isinstance(raw.get("extensions"), dict) else {},
        "extra": {k: copy.deepcopy(v) for k, v in raw.items() if k not in (*BOOK_FIELDS, "entries")},
    }
