"""HTTP Range support for clip files (video seeking), which Django's FileResponse lacks.

Only single byte ranges are served (what browsers send for <video>); a
multi-range request is answered with the whole file, which RFC 9110 allows.
A partial response is capped at ``MAX_PART`` bytes: for an open range
("bytes=0-") a server may return less than asked, and the browser simply asks
for the next range, so memory per request stays bounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_PART = 4 * 1024 * 1024

_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


_HUGE = 10**18  # past any file; longer numbers are not parsed at all (int() of 5,000 digits raises)


class RangeNotSatisfiable(Exception):
    pass


def _number(digits: str) -> int:
    return int(digits) if len(digits) <= 18 else _HUGE


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def parse_range(header: str | None, size: int, *, max_part: int = MAX_PART) -> ByteRange | None:
    """The range to serve for a ``Range`` header, None for "send the whole file".

    Raises RangeNotSatisfiable when the range lies outside a non-empty file.
    """
    if not header:
        return None
    m = _RANGE_RE.match(header)
    if m is None:
        return None  # malformed or multi-range: ignore the header, send everything
    first, last = m.group(1), m.group(2)
    if not first and not last:
        return None
    if size == 0:
        raise RangeNotSatisfiable()
    if not first:  # suffix range: the last N bytes
        suffix = _number(last)
        if suffix == 0:
            raise RangeNotSatisfiable()
        start, end = max(0, size - suffix), size - 1
    else:
        start = _number(first)
        end = min(_number(last), size - 1) if last else size - 1
        if start >= size or (last and _number(last) < start):
            raise RangeNotSatisfiable()
    end = min(end, start + max_part - 1)
    return ByteRange(start, end)
