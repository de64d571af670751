"""Refusals people can act on: typed exceptions with a stable code; the Korean text is looked up by code.

Each package subclasses DomainError with its own MESSAGES (code → Korean template). The web layer
answers {"error": code, "message": message} with the class's (or the instance's) HTTP status; the
CLI prints the message. The message never contains personal data: templates take codes and field names.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

GENERIC = "처리할 수 없는 요청이에요."


class DomainError(Exception):
    status: ClassVar[int] = 400
    MESSAGES: ClassVar[Mapping[str, str]] = {}

    def __init__(self, code: str, *, status: int | None = None, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params
        self.http_status = status if status is not None else type(self).status

    @property
    def message(self) -> str:
        template = self.MESSAGES.get(self.code)
        return template.format(**self.params) if template else GENERIC

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
