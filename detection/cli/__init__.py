"""`dasi detect ...`: the classifier's commands (classify, train) and the pipeline's (scan, report, ...)."""
from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    from casebook.cli.stats import add_section
    from detection.cli import citizen, classifier, outreach, pipeline
    from detection.outreach.stats import tables as outreach_tables

    detect = subparsers.add_parser("detect", help="find prostitution ads and the luring of minors in posts")
    sub = detect.add_subparsers(dest="detect_command", required=True)
    classifier.register(sub)
    pipeline.register(sub)
    outreach.register(sub)
    add_section("outreach", outreach_tables)  # `dasi stats` shows the outreach table
    citizen.register(sub)  # after outreach: `dasi stats` lists the citizen table after the outreach one
