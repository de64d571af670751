"""Casebook benchmark: the year's statistics and the console's case list, each against a plain-SQL
baseline measured in the same run (ratio = dasi time / baseline time).

1. Statistics (casebook.stats.queries.compute: every table) for a generated year (tests.casebook.yeargen: 340
   persons, 4,300 services in the year) vs. hand-written SQL text counting the same figures with the
   same number of queries; on SQLite and on PostgreSQL (DASI_BENCH_POSTGRES_URL, else
   DASI_TEST_POSTGRES_URL: its public schema is dropped and recreated; without either, skipped).
   The baseline's figures are checked against dasi's, so both really count the same thing.
2. The console's case list for 10,000 cases: p95 of casebook.cases.reading.list_cases (first page of 50,
   newest first, with the person's decrypted name, owner, due follow-ups, total and the audit entry)
   for a supervisor and for a counsellor (own cases), vs. SELECT ... ORDER BY ... LIMIT 50 plus the
   count in plain SQL, each in its own transaction like a request.

    python -m bench casebook [--rounds N]
"""
from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import select, text

PERIOD = (date(2025, 1, 1), date(2025, 12, 31))
LIST_CASES = 10_000

# --- the plain-SQL baseline: the same counts as casebook/stats/queries.py, written out by hand ---------------

SCOPE = """WITH scope AS (SELECT * FROM cases c WHERE c.opened_at < :hi AND (c.closed_at IS NULL OR c.closed_at >= :lo
  OR c.id IN (SELECT case_id FROM case_services WHERE "on" >= :lo AND "on" < :hi)
  OR c.id IN (SELECT case_id FROM case_followups WHERE done_at >= :lo AND done_at < :hi)))"""
CASE_COLS = """count(*), sum(CASE WHEN opened_at >= :lo THEN 1 ELSE 0 END), count(DISTINCT person_id),
  sum(CASE WHEN closed_at >= :lo AND closed_at < :hi THEN 1 ELSE 0 END),
  sum(CASE WHEN closed_at >= :lo AND closed_at < :hi AND referred_out THEN 1 ELSE 0 END)"""
SERVICES_IN = """FROM case_services s JOIN cases c ON c.id = s.case_id WHERE s."on" >= :lo AND s."on" < :hi"""
ONLINE_CH = "CASE WHEN route = 'online' THEN channel END"


def baseline_queries(dialect: str) -> list[str]:
    new = "(CASE WHEN opened_at >= :lo THEN 1 ELSE 0 END)"
    if dialect == "sqlite":
        handoff = "e.kind = 'state' AND json_extract(e.detail, '$.new') = 'waiting'"
        later_handoff = "l.kind = 'state' AND json_extract(l.detail, '$.new') = 'waiting'"
        hour = "CAST(strftime('%H', {}, '+9 hours') AS INTEGER)"
        seconds = "(julianday(replied) - julianday(asked)) * 86400.0"
    else:
        handoff = "e.kind = 'state' AND e.detail->>'new' = 'waiting'"
        later_handoff = "l.kind = 'state' AND l.detail->>'new' = 'waiting'"
        hour = "CAST(extract(hour FROM timezone('Asia/Seoul', {})) AS INTEGER)"
        seconds = "extract(epoch FROM replied - asked)"
    return [
        f"{SCOPE} SELECT {CASE_COLS} FROM scope",
        f"SELECT count(*), sum(s.minutes), count(DISTINCT c.person_id) {SERVICES_IN}",
        f"SELECT s.kind, count(*), count(DISTINCT c.person_id), sum(s.minutes) {SERVICES_IN} GROUP BY s.kind",
        f"SELECT count(DISTINCT c.person_id) {SERVICES_IN} AND s.kind IN ('linkage', 'selfhelp', 'material', 'group')",
        f"{SCOPE} SELECT route, {ONLINE_CH}, {CASE_COLS} FROM scope GROUP BY route, {ONLINE_CH}",
        f"SELECT c.route, CASE WHEN c.route = 'online' THEN c.channel END, count(*) {SERVICES_IN} "
        f"GROUP BY c.route, CASE WHEN c.route = 'online' THEN c.channel END",
        f"{SCOPE} SELECT support_level, {CASE_COLS} FROM scope GROUP BY support_level",
        f"SELECT c.support_level, count(*) {SERVICES_IN} GROUP BY c.support_level",
        f"{SCOPE} SELECT {new}, {CASE_COLS} FROM scope GROUP BY {new}",
        f"SELECT CASE WHEN c.opened_at >= :lo THEN 1 ELSE 0 END, count(*) {SERVICES_IN} "
        f"GROUP BY CASE WHEN c.opened_at >= :lo THEN 1 ELSE 0 END",
        """SELECT months,
             sum(CASE WHEN due_on >= :lo AND due_on < :hi AND NOT cancelled THEN 1 ELSE 0 END),
             sum(CASE WHEN done_at >= :lo AND done_at < :hi THEN 1 ELSE 0 END),
             sum(CASE WHEN due_on >= :lo AND due_on < :hi AND NOT cancelled AND done_at IS NULL THEN 1 ELSE 0 END),
             sum(CASE WHEN due_on >= :lo AND due_on < :hi AND cancelled THEN 1 ELSE 0 END)
           FROM case_followups WHERE (due_on >= :lo AND due_on < :hi) OR (done_at >= :lo AND done_at < :hi)
           GROUP BY months""",
        "SELECT channel, count(*) FROM conversations WHERE created_at >= :lo AND created_at < :hi GROUP BY channel",
        f"""SELECT v.channel, sum(CASE WHEN {handoff} THEN 1 ELSE 0 END),
              count(DISTINCT CASE WHEN {handoff} THEN e.conversation_id END),
              sum(CASE WHEN e.kind = 'handoff_channel' THEN 1 ELSE 0 END)
            FROM conversation_events e JOIN conversations v ON v.id = e.conversation_id
            WHERE e.created_at >= :lo AND e.created_at < :hi AND e.kind IN ('state', 'handoff_channel')
            GROUP BY v.channel""",
        """SELECT channel, count(*) FROM messages WHERE author = 'counsellor' AND created_at >= :lo
           AND created_at < :hi GROUP BY channel""",
        f"""WITH h AS (SELECT e.id, e.conversation_id, e.created_at,
                 (SELECT min(l.created_at) FROM conversation_events l WHERE l.conversation_id = e.conversation_id
                  AND l.id > e.id AND {later_handoff}) AS next_at
               FROM conversation_events e WHERE {handoff} AND e.created_at >= :lo AND e.created_at < :hi),
            a AS (SELECT v.channel, h.created_at AS asked, min(m.created_at) AS replied
               FROM h JOIN conversations v ON v.id = h.conversation_id
               JOIN messages m ON m.conversation_id = h.conversation_id AND m.author = 'counsellor'
                 AND m.created_at >= h.created_at AND (h.next_at IS NULL OR m.created_at < h.next_at)
               GROUP BY h.id, h.created_at, v.channel)
            SELECT channel, {seconds} FROM a""",
        f"""SELECT {hour.format('created_at')}, count(*) FROM conversations
            WHERE created_at >= :lo AND created_at < :hi GROUP BY {hour.format('created_at')}""",
        f"""SELECT {hour.format('e.created_at')}, count(*) FROM conversation_events e
            WHERE e.created_at >= :lo AND e.created_at < :hi AND {handoff} GROUP BY {hour.format('e.created_at')}""",
    ]


LIST_SQL = """SELECT c.number, c.step, c.support_level, c.opened_at, c.closed_at, p.id, p.name, u.login, u.name
  FROM cases c JOIN persons p ON p.id = c.person_id LEFT JOIN users u ON u.id = c.owner_id {where}
  ORDER BY c.opened_at DESC, c.id DESC LIMIT 50"""
COUNT_SQL = "SELECT count(*) FROM cases c {where}"


# --- running ----------------------------------------------------------------------------------------

@contextmanager
def private_settings(url: str) -> Iterator[None]:
    """Fresh keys and the bench database, undone afterwards (the rest of `make bench` is untouched)."""
    from assistant.core.settings import get_settings

    saved = {k: os.environ.get(k) for k in ("DASI_DATA_KEY", "DASI_SECRET_KEY", "DASI_DATABASE_URL")}
    os.environ.update(DASI_DATA_KEY=Fernet.generate_key().decode(), DASI_SECRET_KEY="bench-secret",
                      DASI_DATABASE_URL=url)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        get_settings.cache_clear()


def fresh_postgres(url: str) -> None:
    from sqlalchemy import create_engine

    from assistant.store.db import sync_url

    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


async def timed(ours: Callable[[], Awaitable[Any]], base: Callable[[], Awaitable[Any]],
                rounds: int) -> tuple[list[float], Any, list[float], Any]:
    """Both, alternating round by round (the machine's noise hits both alike), after a warm-up."""
    await ours(), await base()  # connections, statement caches
    ours_t, base_t, ours_r, base_r = [], [], None, None
    for _ in range(rounds):
        t0 = time.perf_counter()
        ours_r = await ours()
        t1 = time.perf_counter()
        base_r = await base()
        base_t.append(time.perf_counter() - t1)
        ours_t.append(t1 - t0)
    return ours_t, ours_r, base_t, base_r


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


async def bench_db(label: str, url: str, rounds: int, list_rounds: int) -> list[tuple]:
    from assistant.store.db import close_engines, sessionmaker
    from assistant.store.migrate import upgrade
    from casebook.models import Case, User
    from casebook.staff.accounts import SignedIn
    from casebook.stats import queries as stats
    from tests.casebook import yeargen

    rows: list[tuple] = []
    upgrade(url)
    maker = sessionmaker(url)
    t0 = time.perf_counter()
    async with maker() as s, s.begin():
        plan = await yeargen.generate(s, year=2025, seed=7)
    gen_s = time.perf_counter() - t0
    period = stats.Period(*PERIOD)
    lo, hi = period.lo, period.hi
    async with maker() as s:
        dialect = s.get_bind().dialect.name
    if dialect == "sqlite":  # bind the timestamps as SQLAlchemy stores them on SQLite (UTC text)
        lo, hi = (t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") for t in (lo, hi))
    queries = [text(q) for q in baseline_queries(dialect)]

    async def dasi_stats():
        async with maker() as s:
            return await stats.compute(s, period)

    async def plain_stats():
        async with maker() as s:
            return [(await s.execute(q, {"lo": lo, "hi": hi})).all() for q in queries]

    dasi_t, result, base_t, base = await timed(dasi_stats, plain_stats, rounds)
    # The baseline counts the same: people, services by kind, handoffs by hour.
    assert base[0][0][2] == result.summary["people"], "baseline and dasi disagree on 실인원"
    assert {r[0]: r[1] for r in base[2]} == {k: v for k, v in zip(
        ["emotional", "legal", "medical", "psych", "linkage", "selfhelp", "material", "group"],
        result.table("service_kinds").rows[0][2:], strict=True) if v}, "baseline and dasi disagree on services by kind"
    assert sum(r[1] for r in base[16]) == result.summary["handoffs"], "baseline and dasi disagree on handoffs"
    rows.append((f"statistics, year: {plan.services_in_year:,} services, {result.summary['people']} people "
                 f"(median of {rounds})", label, statistics.median(dasi_t), statistics.median(base_t)))

    # 10,000 cases for the case list: the rest generated on top of the year.
    async with maker() as s:
        have = await s.scalar(select(text("count(*)")).select_from(Case))
    t1 = time.perf_counter()
    async with maker() as s, s.begin():
        await yeargen.generate(s, year=2024, seed=8, persons=LIST_CASES // 2, cases=LIST_CASES - have,
                               services=3000, conversations=1000)
    gen_s += time.perf_counter() - t1
    from casebook.cases import reading

    async with maker() as s, s.begin():
        user = (await s.execute(select(User).where(User.login == "yeargen-01"))).scalar_one()
        total = await s.scalar(select(text("count(*)")).select_from(Case))
        boss = User(login="bench-supervisor", name="감독자", role="supervisor", password_hash="!")
        s.add(boss)
        await s.flush()
    who = {"supervisor": SignedIn(boss.id, boss.login, boss.name, "supervisor", "", ""),
           "counsellor": SignedIn(user.id, user.login, user.name, "counsellor", "", "")}
    for role, signed_in in who.items():
        async def listed(signed_in=signed_in):
            async with maker() as s, s.begin():
                return await reading.list_cases(s, signed_in, limit=50)

        where = "" if role == "supervisor" else (
            "WHERE c.owner_id = :uid OR c.id IN (SELECT case_id FROM case_members WHERE user_id = :uid)")

        async def plain_list(where=where, signed_in=signed_in):
            async with maker() as s, s.begin():
                page = (await s.execute(text(LIST_SQL.format(where=where)), {"uid": signed_in.user_id})).all()
                count = await s.scalar(text(COUNT_SQL.format(where=where)), {"uid": signed_in.user_id})
                return page, count

        list_t, (page, count), base_t, (bpage, bcount) = await timed(listed, plain_list, list_rounds)
        assert count == bcount and [r["number"] for r in page] == [r[0] for r in bpage], "case lists differ"
        rows.append((f"case list p95, {total:,} cases, {role} ({count:,} visible, page of 50)", label,
                     p95(list_t), p95(base_t)))
    print(f"  [{label}] generated {total:,} cases in {gen_s:.1f} s")
    await close_engines()
    return rows


def table(rows: list[tuple]) -> str:
    width = max(len(r[0]) for r in rows)
    lines = [f"{'casebook':<{width}}  {'db':<10} {'dasi':>10} {'baseline':>10} {'ratio':>7}"]
    for what, db, ours, base in rows:
        if ours is None:
            lines.append(f"{what:<{width}}  {db:<10} {'skipped':>10}")
            continue
        lines.append(f"{what:<{width}}  {db:<10} {ours * 1000:>8.1f}ms {base * 1000:>8.1f}ms {ours / base:>6.2f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(argv or [])
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 7
    list_rounds = max(20, rounds * 6)
    rows: list[tuple] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        with private_settings(url):
            rows += asyncio.run(bench_db("SQLite", url, rounds, list_rounds))
    pg = os.environ.get("DASI_BENCH_POSTGRES_URL") or os.environ.get("DASI_TEST_POSTGRES_URL")
    if pg:
        fresh_postgres(pg)
        with private_settings(pg):
            rows += asyncio.run(bench_db("PostgreSQL", pg, rounds, list_rounds))
    else:
        rows.append(("statistics and case list", "PostgreSQL", None, None))
        print("  PostgreSQL skipped: set DASI_BENCH_POSTGRES_URL (its public schema is recreated)")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
