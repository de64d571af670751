"""`dasi detect outreach`: read new youth-flagged posts and draft the watcher's messages (also run after
every `dasi detect scan`), and show the counts. Approving and sending happen only in the review pages
(/console/outreach), by a signed-in staff member."""
from __future__ import annotations

import argparse
import json
from typing import Any

from assistant.core.settings import get_settings


def draft_now(settings: Any, actor: str = "cli") -> dict[str, Any]:
    from detection.outreach import service
    from detection.storage import queries as store

    with store.session(settings) as s, s.begin():
        return service.draft_pending(s, settings, actor=actor).as_dict()


def cmd_outreach(args: argparse.Namespace) -> int:
    from detection.outreach.stats import stats
    from detection.storage import queries as store

    settings = get_settings()
    out: dict[str, Any] = {}
    if not args.stats_only:
        out["drafted"] = draft_now(settings)
    with store.session(settings) as s:
        out["stats"] = stats(s)
    out["dry_run"] = settings.outreach_dry_run
    print(json.dumps(out, ensure_ascii=False, indent=2, default=str))
    return 0


def register(detect: Any) -> None:
    p = detect.add_parser("outreach", help="draft watcher outreach for posts luring minors (approve in the console)")
    p.add_argument("--stats-only", action="store_true", help="only show the counts")
    p.set_defaults(func=cmd_outreach)
