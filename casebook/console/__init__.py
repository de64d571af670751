"""The counsellor console: HTTP routes only (thin); the work is done in casebook.conversations,
casebook.cases, casebook.stats and casebook.staff."""
from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    from casebook.console import cases, conversations, live, pages, staff, stats

    for part in (pages, staff, conversations, live, cases, stats):
        part.setup(app)
