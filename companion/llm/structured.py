"""Schema-constrained output shared by the backends.

Both backends constrain decoding to the pydantic model's JSON schema (a
llama.cpp grammar in-process, the server's structured outputs for the openai
backend), then validate the text with pydantic, so a caller either gets a
valid instance or a StructuredOutputError and falls back to its deterministic path.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError

from companion.llm.base import SchemaT, StructuredOutputError


def json_schema(schema: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema sent to the decoder for ``schema``."""
    return schema.model_json_schema()


SMALL_INT_RANGE = 64


def grammar_friendly_schema(schema: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema with each small bounded integer range written as an ``enum``.

    llama.cpp's JSON-schema-to-grammar converter (llama-cpp-python 0.3.36, and its
    server) ignores ``minimum``/``maximum``: SmolLM2 then writes ``"importance": 0``
    for a 1..5 field and the output fails validation. An enum is enforced.
    """

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            node = {key: rewrite(value) for key, value in node.items()}
            low, high = node.get("minimum"), node.get("maximum")
            if (
                node.get("type") == "integer"
                and isinstance(low, int)
                and isinstance(high, int)
                and 0 <= high - low < SMALL_INT_RANGE
            ):
                extra = {k: v for k, v in node.items() if k not in ("type", "minimum", "maximum")}
                return {**extra, "enum": list(range(low, high + 1))}
            return node
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    return rewrite(json_schema(schema))


def schema_instruction(schema: type[BaseModel]) -> str:
    """A prompt line describing the expected JSON; callers may add it to their system turn.

    Constrained decoding guarantees the shape; telling the model the shape as
    well makes the *content* of small models much better.
    """
    return "Answer with a single JSON object matching this JSON schema:\n" + json.dumps(
        json_schema(schema), separators=(",", ":")
    )


def parse_structured(schema: type[SchemaT], text: str) -> SchemaT:
    """Validate model output against ``schema`` or raise StructuredOutputError.

    A raw control character inside a string (a newline, which llama.cpp's JSON
    grammar lets through) is read leniently: the content is what was meant.
    """
    try:
        return schema.model_validate_json(text)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            try:
                return schema.model_validate(json.loads(text, strict=False))
            except (ValueError, ValidationError):
                pass
        snippet = text if len(text) <= 200 else text[:200] + "…"
        raise StructuredOutputError(
            f"{schema.__name__} output did not validate: {exc.errors()!r}; got {snippet!r}"
        ) from exc
