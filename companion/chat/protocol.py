"""Client → server websocket frames (companion/chat/PROTOCOL.md, README "Websocket protocol").

Parsing is two-step so every bad frame gets a specific error code: JSON
(``bad_json``), then ``type`` (``unknown_type``), then the fields
(``invalid_frame``). Text limits are checked by the services (``empty_text``,
``too_long``) because the REST API shares them.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from companion.chat.frames import frame_handler
from companion.core.errors import ApplicationError, validation_detail

ClientId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
MessageId = Annotated[int, Field(ge=1)]


class Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=False)


class MessageSend(Frame):
    type: Literal["message.send"]
    text: str
    client_id: ClientId
    persona_id: Annotated[int, Field(ge=1)] | None = None  # group scenes: who should answer


class MessageRegenerate(Frame):
    type: Literal["message.regenerate"]
    message_id: MessageId


class MessageSelect(Frame):
    type: Literal["message.select"]
    message_id: MessageId


class MessageEdit(Frame):
    type: Literal["message.edit"]
    message_id: MessageId
    text: str


class MessageDelete(Frame):
    type: Literal["message.delete"]
    message_id: MessageId


class MessageStop(Frame):
    type: Literal["message.stop"]
    message_id: MessageId | None = None


class HistorySync(Frame):
    type: Literal["history.sync"]
    after_seq: Annotated[int, Field(ge=0)] = 0


class ExtensionFrame(Frame):
    """A frame type another app registered (chat.frames): validated by its handler."""

    model_config = ConfigDict(extra="allow")
    type: str


FRAMES: dict[str, type[Frame]] = {
    model.model_fields["type"].annotation.__args__[0]: model  # the Literal's value
    for model in (
        MessageSend,
        MessageRegenerate,
        MessageSelect,
        MessageEdit,
        MessageDelete,
        MessageStop,
        HistorySync,
    )
}


class FrameError(ApplicationError):
    """A frame that cannot be read: bad_json, invalid_frame, unknown_type."""


def parse_frame(raw: str | bytes | None) -> tuple[Frame, dict[str, Any]]:
    """Validate one client frame; returns (model, the raw dict) or raises FrameError."""
    if raw is None:
        raise FrameError("bad_json", "Frames are JSON text.")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FrameError("bad_json", f"Not valid JSON: {exc}") from None
    except RecursionError:  # '[' * 100000: nesting deeper than the parser recurses (found by tests/fuzz)
        raise FrameError("bad_json", "Not valid JSON: nested too deeply.") from None
    try:  # "\ud800" escapes decode to lone surrogates no database can store (found by tests/fuzz)
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise FrameError("bad_json", "Not valid JSON: unpaired surrogate in a string.") from None
    if not isinstance(data, dict):
        raise FrameError("invalid_frame", "A frame is a JSON object with a 'type'.")
    kind = data.get("type")
    if not isinstance(kind, str) or not kind:
        raise FrameError("invalid_frame", "Missing 'type'.")
    model = FRAMES.get(kind) or (ExtensionFrame if frame_handler(kind) is not None else None)
    if model is None:
        raise FrameError("unknown_type", f"Unknown frame type {kind[:50]!r}.")
    try:
        return model.model_validate(data), data
    except ValidationError as exc:
        raise FrameError("invalid_frame", validation_detail(exc)) from None
