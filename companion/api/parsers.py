"""The REST API's JSON parser: DRF's, with a nesting limit (personas.jsonlimits).

A body nested deeper than ``JSON_MAX_DEPTH`` levels is a 400 ``ParseError``,
never a RecursionError (500) in the parser or in whatever walks the data next.
"""

from __future__ import annotations

import codecs
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

from personas.jsonlimits import JSONTooDeep, loads_limited


class BoundedJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
            return loads_limited(text, parse_constant=json.strict_constant if self.strict else None)
        except JSONTooDeep as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
