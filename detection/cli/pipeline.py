"""`dasi detect scan | report | recheck | stats | verify`: the pipeline around the classifier.
`register(detect_subparsers)` is called by detection/cli/__init__.py, which owns the `detect` group."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from assistant.core.settings import get_settings


def _print(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def cmd_scan(args: argparse.Namespace) -> int:
    from detection.cli.outreach import draft_now
    from detection.pipeline.scan import scan
    from detection.pipeline.sources import SourceError, load_config

    settings = get_settings()
    try:
        names = list(load_config(settings.detect_sources_file)) if args.all else [args.source]
    except (SourceError, OSError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if not names or names == [None]:
        print("give --source NAME or --all", file=sys.stderr)
        return 2
    for name in names:
        try:
            result = asyncio.run(scan(settings, name, max_batches=args.max_batches))
        except (KeyError, SourceError, OSError) as exc:  # the cursor keeps what was stored before this
            print(f"source {name}: {exc}", file=sys.stderr)
            return 1
        # Outreach drafts for the new youth-flagged posts (approved by staff at /console/outreach).
        _print({**result.as_dict(), "posts_per_second": round(result.fetched / result.seconds, 1)
                if result.seconds else None, "outreach": draft_now(settings)})
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from detection.pipeline import reports
    from detection.storage import queries as store

    settings = get_settings()
    with store.session(settings) as s, s.begin():
        if args.approve:
            if not args.by:
                print("--approve needs --by NAME (who checked and sent it)", file=sys.stderr)
                return 2
            try:
                r = reports.approve(s, args.approve, args.by, allow_without_indicators=args.force)
            except reports.ReportError as exc:
                print(f"승인하지 않았어요: {exc.message}", file=sys.stderr)
                return 1
            _print({"report": r.id, "status": r.status, "approved_by": r.approved_by})
            return 0
        started = time.perf_counter()
        batch = reports.draft_batch(s, settings)
        _print({"batch": batch.batch, "reports": batch.reports, "directory": str(batch.directory),
                "csv": str(batch.csv_path) if batch.csv_path else None,
                "xlsx": str(batch.xlsx_path) if batch.xlsx_path else None,
                "seconds": round(time.perf_counter() - started, 3)})
    return 0


@asynccontextmanager
async def recheck_fetch(settings: Any) -> AsyncIterator[Callable[[str], Awaitable[tuple[int, str]]]]:
    """fetch(url) -> (status, text) through detection's safe fetcher, staying on the post URL's host."""
    from yarl import URL

    from detection.pipeline.sources.base import safe_fetcher

    async with safe_fetcher(settings, timeout=20) as fetcher:
        async def fetch(url: str) -> tuple[int, str]:
            page = await fetcher.get(url, hosts=[URL(url).raw_host or ""])
            return page.status, page.body.decode("utf-8", "replace")
        yield fetch


def cmd_recheck(args: argparse.Namespace) -> int:
    from detection.pipeline import reports
    from detection.storage import queries as store

    settings = get_settings()

    async def run() -> dict[str, int]:
        async with recheck_fetch(settings) as fetch:  # a refused URL counts as "not deleted"
            with store.session(settings) as s, s.begin():
                return await reports.recheck(s, fetch, args.report or None)

    _print(asyncio.run(run()))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from detection.outreach.stats import stats as outreach_stats
    from detection.pipeline.stats import TABLE_LABELS, stats
    from detection.storage import queries as store

    with store.session(get_settings()) as s:
        data = {**stats(s), "outreach": outreach_stats(s)}
    if args.json:
        _print(data)
        return 0
    t, r = data["table"], data["reports"]
    print(" | ".join(label for _, label in TABLE_LABELS))
    print(" | ".join(str(t[key]) for key, _ in TABLE_LABELS))
    print(f"검토 대기 {data['pending']} · 청소년 의심 {data['youth_flagged']} · 수집 {data['scanned']} "
          f"(해당없음 자동 {data['clear']}) · 신고서 초안 {r['draft']} / 제출 {r['submitted']} / 삭제 확인 "
          f"{r['deleted']} / 삭제 안 됨 {r['not_deleted']} · 삭제 확인 게시물 {data['posts_deleted']}")
    o = data["outreach"]
    print(f"아웃리치: 경고 {o['warnings_sent']} · 안내 {o['guidance_sent']} (직접 게시 {o['posted_by_hand']}) · "
          f"모의 승인 {o['dry_run_approvals']} · 신고서 전환 계정 {o['accounts_escalated']} / 연락처 "
          f"{o['contacts_escalated']} · 경고한 글 삭제 {o['warned_posts']['deleted']} / "
          f"게시 중 {o['warned_posts']['live']}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from detection.pipeline.evidence import EvidenceStore
    from detection.storage import queries as store

    settings = get_settings()
    with store.session(settings) as s:
        problems = EvidenceStore.for_settings(settings).verify(s, deep=not args.quick)
    for p in problems:
        print(p)
    print("evidence log intact" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


def register(detect: Any) -> None:
    scan = detect.add_parser("scan", help="fetch new posts from a source, classify, keep evidence")
    scan.add_argument("--source", help="a name from the sources file (DASI_DETECT_SOURCES)")
    scan.add_argument("--all", action="store_true", help="every configured source")
    scan.add_argument("--max-batches", type=int, default=None)
    scan.set_defaults(func=cmd_scan)
    report = detect.add_parser("report", help="draft reports for confirmed posts, or approve one")
    report.add_argument("--batch", action="store_true", help="draft every pending report and export CSV/XLSX")
    report.add_argument("--approve", type=int, metavar="ID", help="mark report ID approved and submitted")
    report.add_argument("--by", help="who approved it")
    report.add_argument("--force", action="store_true", help="approve even without explicit indicators")
    report.set_defaults(func=cmd_report)
    recheck = detect.add_parser("recheck", help="re-fetch submitted posts' URLs: deleted or not")
    recheck.add_argument("--report", type=int, action="append")
    recheck.set_defaults(func=cmd_recheck)
    st = detect.add_parser("stats", help="the monitoring table (by category, 삭제요청/미삭제)")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_stats)
    verify = detect.add_parser("verify", help="check the evidence log's hash chain and files")
    verify.add_argument("--quick", action="store_true", help="chain only, do not re-hash files")
    verify.set_defaults(func=cmd_verify)
