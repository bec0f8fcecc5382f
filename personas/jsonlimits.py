"""JSON from uploads and request bodies, with a nesting limit.

``json.loads`` recurses once per nesting level: ``"[" * 100_000`` raises
RecursionError (a 500 wherever nobody expected it), and a document a few
hundred levels deep parses but breaks the next recursive walk (validation,
``json.dumps`` into a JSONField, the export). ``loads_limited`` refuses both
with ``JSONTooDeep`` (a ValueError, like a syntax error), so callers answer
400 / a form error. Used by character cards, LoRA headers and the REST API's
parser (companion.api.parsers).
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings


class JSONTooDeep(ValueError):
    pass


def max_depth_setting() -> int:
    return settings.JSON_MAX_DEPTH


def depth_exceeds(value: Any, max_depth: int) -> bool:
    """True when containers nest deeper than ``max_depth`` (iterative: no recursion of its own)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def loads_limited(data: str | bytes, *, max_depth: int | None = None, **kwargs: Any) -> Any:
    """``json.loads(data, **kwargs)`` that raises JSONTooDeep past ``max_depth`` levels (default: JSON_MAX_DEPTH)."""
    limit = max_depth_setting() if max_depth is None else max_depth
    try:
        value = json.loads(data, **kwargs)
    except RecursionError:
        raise JSONTooDeep(f"JSON nested more than {limit} levels deep.") from None
    if depth_exceeds(value, limit):
        raise JSONTooDeep(f"JSON nested more than {limit} levels deep.")
    return value
