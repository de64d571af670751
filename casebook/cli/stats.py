"""`dasi stats`: the year's statistics as XLSX, CSV or JSON (see casebook/stats/queries.py for definitions)."""
from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

from assistant.core.clock import KST

FORMATS = ("xlsx", "csv", "json")
# Tables other packages add to `dasi stats` (casebook.stats.queries.Section), by name: detection's CLI
# registration adds its outreach table. Filled when the `dasi` parser is built, before any command runs.
SECTIONS: dict[str, Any] = {}


def add_section(name: str, section: Any) -> None:
    SECTIONS[name] = section
HELP = """The centre's statistics for a period (dates in Korean time, both inclusive).

Outputs:
  xlsx  one workbook, one sheet per table (--out FILE, default dasi-stats-FROM_TO.xlsx)
  csv   a folder with one CSV per table, 01_summary.csv, 02_services.csv, ... (UTF-8 with BOM;
        --out FOLDER, default dasi-stats-FROM_TO/)
  json  every table in one document (--out FILE, default: standard output)
Only anonymous counts are read: nothing is decrypted. The run is written to the audit log."""


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def cmd_stats(args: argparse.Namespace) -> int:
    import asyncio

    from assistant.store.db import close_engines, sessionmaker
    from casebook.staff import audit
    from casebook.stats import export as stats_export
    from casebook.stats import queries as stats

    this_year = datetime.now(KST).year
    start = args.from_ or date(this_year, 1, 1)
    end = args.to or date(start.year, 12, 31)
    try:
        period = stats.Period(start, end)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def run() -> stats.Stats:
        try:
            async with sessionmaker()() as s, s.begin():
                result = await stats.compute(s, period, SECTIONS.values())
                audit.record(s, "cli", "stats.export", "stats", period.label(), format=args.format)
                return result
        finally:
            await close_engines()

    result = asyncio.run(run())
    stem = f"dasi-stats-{start.isoformat()}_{end.isoformat()}"
    if args.format == "json":
        text = stats_export.to_json(result)
        if args.out:
            Path(args.out).write_text(text + "\n", encoding="utf-8")
            print(f"wrote {args.out}")
        else:
            print(text)
    elif args.format == "csv":
        paths = stats_export.to_csv_dir(result, Path(args.out or stem))
        print(f"wrote {len(paths)} CSV files to {paths[0].parent}")
    else:
        out = Path(args.out or f"{stem}.xlsx")
        out.write_bytes(stats_export.to_xlsx(result))
        print(f"wrote {out}")
    s = result.summary
    print(f"{period.label()}: 실인원 {s['people']}명, 서비스 {s['services']}건, 사례 {s['cases']}건 "
          f"(신규 {s['cases_new']}, 계속 {s['cases_continuing']})", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("stats", help="the centre's statistics for a period (xlsx, csv or json)", description=HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--from", dest="from_", type=_date, metavar="YYYY-MM-DD", help="first day (default: 1 January)")
    p.add_argument("--to", type=_date, metavar="YYYY-MM-DD", help="last day (default: 31 December of --from's year)")
    p.add_argument("--format", choices=FORMATS, default="xlsx")
    p.add_argument("--out", help="file (xlsx, json) or folder (csv) to write")
    p.set_defaults(func=cmd_stats)
