"""A logging filter for the Rasa server (assistant/rasa_project/logging.yml): what people wrote never
reaches Rasa's log. Rasa 3.6 logs a message's text with its structured events (e.g.
`rest.message.received.timeout`, and every frame's local variables with an exception); those lines keep
only their event name, level and exception types. Debug lines (they quote messages) are dropped, and a
`token=` query value is masked.

Standard library only: loaded by Rasa's `--logging-config-file` in the Rasa virtualenv (Python 3.10).
"""
from __future__ import annotations

import json
import logging
import re

KEEP = ("event", "event_key", "level", "log_level", "timestamp")
TOKEN = re.compile(r"(token=)[^&\s'\"]+")


def _redact_structured(message: str) -> str | None:
    """A structlog JSON line reduced to KEEP (+ exception types); None when it is not one."""
    if not message.startswith("{"):
        return None
    try:
        data = json.loads(message)
    except ValueError:
        return None
    if not isinstance(data, dict) or "event" not in data:
        return None
    out = {k: data[k] for k in KEEP if k in data}
    exceptions = data.get("exception")
    if isinstance(exceptions, list):
        out["exception_types"] = [e.get("exc_type") for e in exceptions if isinstance(e, dict)]
    return json.dumps(out, ensure_ascii=False)


class RedactMessageText(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO:
            return False
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: say nothing of it rather than something wrong
            return False
        redacted = _redact_structured(message)
        if redacted is not None:
            message = redacted
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        record.msg, record.args = TOKEN.sub(r"\1***", message), ()
        return True
