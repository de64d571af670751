"""What every fake platform shares: a record of what was sent, scripted failures, shape errors."""
from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Scripted:
    status: int
    headers: dict = field(default_factory=dict)
    body: dict = field(default_factory=dict)


class FakePlatform:
    def __init__(self) -> None:
        self.sent: list[dict] = []  # accepted requests: {"path", "json", "headers"}
        self.rejected: list[tuple[str, str]] = []  # (path, why) for requests the real API would refuse
        self.calls = 0
        self._script: list[Scripted] = []

    def fail_next(self, status: int, times: int = 1, headers: dict | None = None, body: dict | None = None) -> None:
        self._script += [Scripted(status, headers or {}, body or {})] * times

    def scripted(self) -> web.Response | None:
        self.calls += 1
        if self._script:
            s = self._script.pop(0)
            return web.json_response(s.body or {"error": {"message": "scripted failure"}},
                                     status=s.status, headers=s.headers)
        return None

    def reject(self, path: str, why: str, status: int = 400, body: dict | None = None) -> web.Response:
        self.rejected.append((path, why))
        return web.json_response(body or {"error": {"message": why}}, status=status)
