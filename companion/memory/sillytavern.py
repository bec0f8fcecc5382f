"""SillyTavern chat JSONL: parse an export, and write one back.

Format: line 1 is metadata ``{"user_name", "character_name", "create_date",
"chat_metadata", ...}``; every other line is one message ``{"name",
"is_user", "is_system"?, "send_date", "mes", "extra"?, ...}``. Whatever we do
not model is kept so an import followed by an export gives the same lines
back: the message's ``extra`` object verbatim in ``Message.extra["st_extra"]``,
other unknown keys in ``["st_fields"]``, the original ``send_date`` string in
``["st_send_date"]`` and the metadata line in the first message's
``["st_header"]``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from companion.memory.dates import parse_datetime

KNOWN_KEYS = {"name", "is_user", "is_system", "send_date", "mes", "extra"}


@dataclass
class StMessage:
    line_no: int
    name: str
    is_user: bool
    is_system: bool
    mes: str
    send_date: Any
    when: datetime | None
    extra: dict[str, Any] | None
    other: dict[str, Any]
    has_is_system: bool = False


@dataclass
class ParsedChat:
    header: dict[str, Any] = field(default_factory=dict)
    messages: list[StMessage] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, why)


def parse_date(value: Any) -> datetime | None:
    """ST has written several date shapes over the years (and other tools more): see ``dates.parse_datetime``."""
    return parse_datetime(value)


def parse_lines(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line number, object or None, error or None) per non-blank line."""
    for n, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield n, None, f"invalid JSON ({exc.msg})"
            continue
        if not isinstance(obj, dict):
            yield n, None, "not a JSON object"
            continue
        yield n, obj, None


def parse_chat(lines: Iterable[str]) -> ParsedChat:
    chat = ParsedChat()
    first = True
    for n, obj, error in parse_lines(lines):
        if error is not None:
            chat.errors.append((n, error))
            first = False if n > 1 else first
            continue
        assert obj is not None
        if first and "mes" not in obj:
            chat.header = obj
            first = False
            continue
        first = False
        if not isinstance(obj.get("mes"), str):
            chat.errors.append((n, "missing or non-text 'mes'"))
            continue
        if "is_user" in obj and not isinstance(obj["is_user"], bool):
            chat.errors.append((n, "'is_user' is not true/false"))
            continue
        extra = obj.get("extra")
        if extra is not None and not isinstance(extra, dict):
            chat.errors.append((n, "'extra' is not an object"))
            continue
        chat.messages.append(
            StMessage(
                line_no=n,
                name=str(obj.get("name") or ""),
                is_user=bool(obj.get("is_user", False)),
                is_system=bool(obj.get("is_system", False)),
                mes=obj["mes"],
                send_date=obj.get("send_date"),
                when=parse_date(obj.get("send_date")),
                extra=extra,
                other={k: v for k, v in obj.items() if k not in KNOWN_KEYS},
                has_is_system="is_system" in obj,
            )
        )
    return chat


def message_extra(m: StMessage, *, header: dict[str, Any] | None = None) -> dict[str, Any]:
    """What goes into ``Message.extra`` so the export can restore the line."""
    extra: dict[str, Any] = {"st_name": m.name, "st_send_date": m.send_date}
    if m.extra is not None:
        extra["st_extra"] = m.extra
    if m.other:
        extra["st_fields"] = m.other
    if m.has_is_system or m.is_system:
        extra["st_is_system"] = m.is_system
    if header is not None:
        extra["st_header"] = header
    return extra


def export_lines(*, header: dict[str, Any], messages: Iterable[Any]) -> Iterator[str]:
    """JSONL lines for ``messages`` (chat.Message rows, oldest first)."""
    yield json.dumps(header, ensure_ascii=False)
    for msg in messages:
        extra = msg.extra or {}
        obj: dict[str, Any] = {
            "name": extra.get("st_name") or (header.get("user_name") if msg.role == "user"
                                             else header.get("character_name")),
            "is_user": msg.role == "user",
        }
        if "st_is_system" in extra or msg.role == "system":
            obj["is_system"] = extra.get("st_is_system", msg.role == "system")
        obj["send_date"] = extra.get("st_send_date") or timezone.localtime(msg.created_at).isoformat()
        obj["mes"] = msg.content
        if "st_extra" in extra:
            obj["extra"] = extra["st_extra"]
        for key, value in (extra.get("st_fields") or {}).items():
            obj.setdefault(key, value)
        yield json.dumps(obj, ensure_ascii=False)
