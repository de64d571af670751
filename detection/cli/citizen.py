"""`dasi detect citizen`: put pending citizen reports into the review queue now (the gateway does this by
itself every few seconds; this is for a gateway that is down, or a batch after a restore)."""
from __future__ import annotations

import argparse
from typing import Any


def cmd_citizen(args: argparse.Namespace) -> int:
    import asyncio

    from assistant.core.settings import get_settings
    from assistant.store.db import close_engines
    from detection.citizen.worker import Worker

    async def run() -> int:
        try:
            return await Worker(get_settings()).run_once()
        finally:
            await close_engines()
    print(f"citizen reports into the review queue: {asyncio.run(run())}")
    return 0


def register(sub: Any) -> None:
    from casebook.cli.stats import add_section
    from detection.citizen import stats

    add_section("citizen_reports", stats.tables)  # `dasi stats` includes the citizen table
    p = sub.add_parser("citizen", help="process pending citizen reports (the gateway does it by itself)")
    p.set_defaults(func=cmd_citizen)
