"""Structured logging: a filter that stamps correlation ids on every record, and the JSON formatter.

Enabled with ``LOG_FORMAT=json`` (one JSON object per line, for a log
shipper); the default is plain text for people reading a terminal.  The JSON
formatter is python-json-logger's, not hand-rolled.
"""

from __future__ import annotations

import logging

from pythonjsonlogger.core import RESERVED_ATTRS

from companion.core import context

_SHORT = {"request_id": "req", "conversation_id": "conv", "job_id": "job"}


class ContextFilter(logging.Filter):
    """Adds request_id / conversation_id / job_id (None when unset) to each record.

    Also ``ids``: " [req=… conv=…]" with only the ids that are set, for the
    plain-text format, so terminal logs are not littered with "None".
    """

    def filter(self, record: logging.LogRecord) -> bool:
        shown = []
        for name, var in context.FIELDS.items():
            if not hasattr(record, name):  # an explicit extra={...} wins
                setattr(record, name, var.get())
            if (value := getattr(record, name)) is not None:
                shown.append(f"{_SHORT[name]}={value}")
        record.ids = f" [{' '.join(shown)}]" if shown else ""
        return True


JSON_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(conversation_id)s %(job_id)s"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(ids)s %(message)s"


def logging_config(*, log_format: str, level: str) -> dict:
    """The LOGGING dict for settings.py."""
    if log_format == "json":
        formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": JSON_FORMAT,
            "rename_fields": {"levelname": "level", "name": "logger", "asctime": "time"},
            # ``ids`` is the text format's summary of the same fields: not a JSON field.
            "reserved_attrs": [*RESERVED_ATTRS, "ids"],
        }
    else:
        formatter = {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "companion.ops.logging.ContextFilter"}},
        "formatters": {"default": formatter},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "filters": ["context"], "formatter": "default"},
        },
        "root": {"handlers": ["console"], "level": level},
    }
