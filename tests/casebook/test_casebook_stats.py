"""The year's statistics on a generated year (SQLite and PostgreSQL): every table recomputed here in
plain Python from the rows read back (not through casebook/stats/queries.py), then the XLSX, CSV and JSON
exports, `dasi stats` end to end, and the supervisor-only API with its audit entries."""
from __future__ import annotations

import csv
import io
import json
import statistics
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from cryptography.fernet import Fernet
from openpyxl import load_workbook
from sqlalchemy import select, update

from assistant.core.clock import KST
from assistant.core.settings import get_settings
from assistant.store.db import close_engines, sessionmaker
from assistant.store.migrate import upgrade
from casebook.cases import workflow
from casebook.models import AuditEntry, Case, CaseService, Conversation, ConversationEvent, FollowUp, Message, Person
from casebook.staff import accounts
from casebook.stats import export as stats_export
from casebook.stats import queries as stats
from tests.casebook import yeargen
from tests.console_client import totp_code

pytestmark = pytest.mark.usefixtures("cheap_hashes")  # test accounts: argon2 at its lowest cost

YEAR = 2025
SHEETS = ["총괄", "구조 지원", "서비스 유형별", "경로·채널별", "지원 수준별", "사례 현황", "사후관리", "대화 채널별",
          "시간대별"]
# The gateway and `dasi stats` add the tables of packages above casebook (detection's outreach and citizen
# reports, tested in tests/detection/test_outreach_send.py and test_citizen_reports.py); compute() alone gives
# casebook's own.
SECTION_SHEETS = {"outreach": "왓쳐 아웃리치(청소년 유인 글 대응)", "citizen_reports": "시민제보"}
SHEETS_ALL = SHEETS + list(SECTION_SHEETS.values())
# Labels written out here on purpose (not imported from stats.py).
CHANNEL = {"web": "웹 채팅", "kakao": "카카오톡", "instagram": "인스타그램", "messenger": "메신저", "x": "X"}
ROUTE = {"online": "온라인 채널", "phone": "전화", "visit": "방문", "referral": "기관 의뢰"}
LEVEL = {"urgent": "긴급", "intensive": "집중", "general": "일반", None: "미정"}
KINDS = ["emotional", "legal", "medical", "psych", "linkage", "selfhelp", "material", "group"]
MEDIAN_COLUMN = "첫 응답 중앙값(분)"


def bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return datetime.combine(start, time(), KST), datetime.combine(end + timedelta(days=1), time(), KST)


async def read_back(session) -> dict:
    """Every row the statistics may count, clear columns only."""
    async def rows(*cols):
        return (await session.execute(select(*cols))).all()
    return {
        "cases": await rows(Case.id, Case.person_id, Case.route, Case.channel, Case.support_level, Case.opened_at,
                            Case.closed_at, Case.referred_out),
        "services": await rows(CaseService.case_id, CaseService.kind, CaseService.on, CaseService.minutes),
        "followups": await rows(FollowUp.case_id, FollowUp.months, FollowUp.due_on, FollowUp.done_at,
                                FollowUp.cancelled),
        "conversations": await rows(Conversation.id, Conversation.channel, Conversation.created_at),
        "events": await rows(ConversationEvent.id, ConversationEvent.conversation_id, ConversationEvent.kind,
                             ConversationEvent.detail, ConversationEvent.created_at),
        "messages": await rows(Message.conversation_id, Message.author, Message.channel, Message.created_at),
    }


def expected(data: dict, start: date, end: date) -> dict[str, dict[str, list]]:
    """All tables, as {table key: {row label: values}}, in plain Python."""
    lo, hi = bounds(start, end)
    inside = lambda t: t is not None and lo <= t < hi  # noqa: E731
    cases = {c.id: c for c in data["cases"]}
    services = [s for s in data["services"] if inside(s.on)]
    served = {s.case_id for s in services}
    followed = {f.case_id for f in data["followups"] if inside(f.done_at)}
    scope = [c for c in cases.values() if c.opened_at < hi and (c.closed_at is None or c.closed_at >= lo
                                                                 or c.id in served or c.id in followed)]
    out: dict[str, dict[str, list]] = {}

    def case_rows(key):
        groups: dict = defaultdict(list)
        for c in scope:
            groups[key(c)].append(c)
        svc = Counter(key(cases[s.case_id]) for s in services)
        return {k: [len(g), sum(c.opened_at >= lo for c in g), sum(c.opened_at < lo for c in g),
                    len({c.person_id for c in g}), svc[k]] for k, g in groups.items()}, svc

    people = len({c.person_id for c in scope})
    total_row = [len(scope), sum(c.opened_at >= lo for c in scope), sum(c.opened_at < lo for c in scope), people,
                 len(services)]

    by_route, route_svc = case_rows(lambda c: ROUTE[c.route]
                                    + (f" · {CHANNEL[c.channel]}" if c.route == "online" else ""))
    routes = {label: by_route.get(label, [0, 0, 0, 0, route_svc[label]]) for label in
              set(by_route) | set(route_svc) | {ROUTE[r] for r in ROUTE if r != "online"}}
    routes["합계"] = total_row
    out["routes"] = routes
    by_level, level_svc = case_rows(lambda c: LEVEL[c.support_level])
    out["levels"] = {label: by_level.get(label, [0, 0, 0, 0, level_svc[label]]) for label in LEVEL.values()}
    out["levels"]["합계"] = total_row

    kinds = Counter(s.kind for s in services)
    kind_people = {k: len({cases[s.case_id].person_id for s in services if s.kind == k}) for k in KINDS}
    minutes = {k: sum(s.minutes for s in services if s.kind == k) for k in KINDS}
    svc_people = len({cases[s.case_id].person_id for s in services})
    other = KINDS[4:]
    out["services"] = {
        "구조 지원(건)": [len(services), *(kinds[k] for k in KINDS[:4]), sum(kinds[k] for k in other)],
        "실인원(명)": [svc_people, *(kind_people[k] for k in KINDS[:4]),
                    len({cases[s.case_id].person_id for s in services if s.kind in other})]}
    out["service_kinds"] = {"건수(건)": [len(services), *(kinds[k] for k in KINDS)],
                            "실인원(명)": [svc_people, *(kind_people[k] for k in KINDS)],
                            "시간(분)": [sum(minutes.values()), *(minutes[k] for k in KINDS)]}

    def new_or_old(label, group):
        ids = {c.id for c in group}
        closed = [c for c in group if inside(c.closed_at)]
        return [len(group), len({c.person_id for c in group}), sum(s.case_id in ids for s in services), len(closed),
                sum(bool(c.referred_out) for c in closed)]
    out["cases"] = {"신규": new_or_old("신규", [c for c in scope if c.opened_at >= lo]),
                    "계속": new_or_old("계속", [c for c in scope if c.opened_at < lo]),
                    "합계": new_or_old("합계", scope)}

    fus = data["followups"]
    fu = {"도래(건)": lambda f: inside(f.due_on) and not f.cancelled, "완료(건)": lambda f: inside(f.done_at),
          "미완료(건)": lambda f: inside(f.due_on) and not f.cancelled and f.done_at is None,
          "취소(건)": lambda f: inside(f.due_on) and f.cancelled}
    out["followups"] = {}
    for label, test in fu.items():
        per = [sum(1 for f in fus if f.months == m and test(f)) for m in (3, 6)]
        out["followups"][label] = [sum(per), *per]

    convs = {c.id: c for c in data["conversations"]}
    is_handoff = lambda e: e.kind == "state" and e.detail.get("new") == "waiting"  # noqa: E731
    handoffs = [e for e in data["events"] if is_handoff(e) and inside(e.created_at)]
    all_handoffs = defaultdict(list)
    for e in data["events"]:
        if is_handoff(e):
            all_handoffs[e.conversation_id].append(e)
    counsellor_msgs = defaultdict(list)
    for m in data["messages"]:
        if m.author == "counsellor":
            counsellor_msgs[m.conversation_id].append(m.created_at)
    waits = defaultdict(list)
    for e in handoffs:
        later = [x.created_at for x in all_handoffs[e.conversation_id] if x.id > e.id]
        nxt = min(later) if later else None
        replies = [t for t in counsellor_msgs[e.conversation_id] if t >= e.created_at and (nxt is None or t < nxt)]
        if replies:
            waits[convs[e.conversation_id].channel].append((min(replies) - e.created_at).total_seconds())
    med = lambda xs: round(statistics.median(xs) / 60, 1) if xs else None  # noqa: E731
    started = [c for c in convs.values() if inside(c.created_at)]
    out["conversations"] = {}
    for ch, label in CHANNEL.items():
        row = [sum(c.channel == ch for c in started),
               sum(convs[e.conversation_id].channel == ch for e in handoffs),
               len({e.conversation_id for e in handoffs if convs[e.conversation_id].channel == ch}),
               sum(e.kind == "handoff_channel" and inside(e.created_at) and convs[e.conversation_id].channel == ch
                   for e in data["events"]),
               sum(m.author == "counsellor" and m.channel == ch and inside(m.created_at) for m in data["messages"]),
               len(waits[ch]), med(waits[ch])]
        if any(row[:6]):
            out["conversations"][label] = row
    totals = [sum(r[i] for r in out["conversations"].values()) for i in range(6)]
    out["conversations"]["합계"] = [*totals, med([w for ws in waits.values() for w in ws])]

    hours = {f"{h:02d}시": [0, 0] for h in range(24)}
    for c in started:
        hours[f"{c.created_at.astimezone(KST).hour:02d}시"][0] += 1
    for e in handoffs:
        hours[f"{e.created_at.astimezone(KST).hour:02d}시"][1] += 1
    hours["합계"] = [len(started), len(handoffs)]
    out["hours"] = hours

    done = out["followups"]["완료(건)"][0]
    out["summary"] = {
        "실인원": [people, "명"], "서비스 건수": [len(services), "건"], "서비스 시간": [sum(minutes.values()), "분"],
        "사례": [len(scope), "건"], "신규 사례": [total_row[1], "건"], "계속 사례": [total_row[2], "건"],
        "종결": [out["cases"]["합계"][3], "건"], "사후관리 완료": [done, "건"], "대화": [totals[0], "건"],
        "상담원 연결 요청": [totals[1], "건"], "상담원 응답": [totals[4], "건"],
        "첫 응답 중앙값": [out["conversations"]["합계"][6], "분"]}
    return out


def close_enough(a, b) -> bool:
    """Exact for counts; medians may differ by one rounding step (SQL and Python time arithmetic)."""
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(a - b) <= 0.11
    return a == b


def assert_tables(got: dict[str, list[list]], want: dict[str, dict[str, list]]) -> None:
    """`got`: {key: rows (label first)} from an output; `want`: from expected()."""
    got = {k: v for k, v in got.items() if k not in SECTION_SHEETS}
    assert set(got) == set(want)
    for key, rows in got.items():
        by_label = {r[0]: list(r[1:]) for r in rows}
        for label, values in by_label.items():  # a row nobody expected must be all zero
            if label not in want[key]:
                assert not any(v for v in values), (key, label, values)
        for label, values in want[key].items():
            assert label in by_label, (key, label)
            assert len(by_label[label]) == len(values) and all(
                close_enough(g, w) for g, w in zip(by_label[label], values, strict=True)
            ), (key, label, by_label[label], values)


def from_stats(result: stats.Stats) -> dict[str, list[list]]:
    return {t.key: t.rows for t in result.tables}


@pytest.fixture
async def year(env, database_url):
    env(DASI_DATABASE_URL=database_url)
    upgrade(database_url)
    async with sessionmaker(database_url)() as s, s.begin():
        plan = await yeargen.generate(s, year=YEAR, seed=11)
    async with sessionmaker(database_url)() as s:
        data = await read_back(s)
    yield plan, data
    await close_engines()


async def test_a_generated_year_is_counted_right_in_every_table(year, env, database_url):
    plan, data = year
    assert plan.persons >= 300 and plan.services_in_year >= 4000
    assert set(plan.steps) == set(workflow.STEPS)  # cases in every step
    assert {s.kind for s in data["services"]} == set(workflow.SERVICE_KINDS)
    assert sum(f.done_at is not None for f in data["followups"]) > 10
    full = (date(YEAR, 1, 1), date(YEAR, 12, 31))
    periods = [full, (date(YEAR, 4, 1), date(YEAR, 6, 30)), (date(YEAR, 12, 31), date(YEAR, 12, 31))]
    for start, end in periods:
        async with sessionmaker(database_url)() as s:
            result = await stats.compute(s, stats.Period(start, end))
        want = expected(data, start, end)
        assert [t.title for t in result.tables][:len(SHEETS)] == SHEETS
        assert_tables(from_stats(result), want)
    year_want = expected(data, *full)
    assert year_want["summary"]["실인원"][0] >= 300 and year_want["summary"]["서비스 건수"][0] >= 4000
    assert year_want["cases"]["신규"][0] and year_want["cases"]["계속"][0]  # both kinds present

    # Retention erases content and a new data key makes old ciphertexts unreadable: nothing changes.
    async with sessionmaker(database_url)() as s, s.begin():
        await s.execute(update(Person).values(name=None, contact=None, erased_at=datetime.now(KST)))
        await s.execute(update(Message).values(text=None))
        await s.execute(update(Case).where(Case.closed_at.is_not(None)).values(referred_by=None,
                                                                               purged_at=datetime.now(KST)))
        await s.execute(update(Conversation).values(purged_at=datetime.now(KST)))
    env(DASI_DATA_KEY=Fernet.generate_key().decode())
    async with sessionmaker(database_url)() as s:
        after = await stats.compute(s, stats.Period(*full))
    assert_tables(from_stats(after), year_want)


async def test_xlsx_csv_and_json_exports_match(year, database_url, tmp_path):
    _, data = year
    start, end = date(YEAR, 1, 1), date(YEAR, 12, 31)
    async with sessionmaker(database_url)() as s:
        result = await stats.compute(s, stats.Period(start, end))
    want = expected(data, start, end)

    wb = load_workbook(io.BytesIO(stats_export.to_xlsx(result)))
    assert wb.sheetnames[:len(SHEETS)] == SHEETS
    got = {}
    for table in result.tables:
        ws = wb[table.title]
        assert table.title in ws["A1"].value and "2025-01-01 ~ 2025-12-31" in ws["A2"].value
        header = [c.value for c in ws[stats_export.HEADER_ROW]]
        assert header == table.columns
        rows = []
        for r in ws.iter_rows(min_row=stats_export.HEADER_ROW + 1, max_col=len(header), values_only=True):
            if r[0] is None:
                break
            rows.append(list(r))
        got[table.key] = rows
    assert_tables(got, want)
    assert [c.value for c in wb["구조 지원"][stats_export.HEADER_ROW]] == [
        "구 분", "총 계(건)", "정서적지원", "법률지원", "의료지원", "심리지원", "기관연계등"]

    paths = stats_export.to_csv_dir(result, tmp_path / "csv")
    assert [p.name for p in paths] == [f"{i + 1:02d}_{t.key}.csv" for i, t in enumerate(result.tables)]
    got = {}
    for path, table in zip(paths, result.tables, strict=True):
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: spreadsheets read the Korean right
        header, *rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
        assert header == table.columns
        got[table.key] = [[r[0], *(parse(v) for v in r[1:])] for r in rows]
    assert_tables(got, want)

    doc = json.loads(stats_export.to_json(result))
    assert doc["period"] == {"from": "2025-01-01", "to": "2025-12-31", "timezone": "Asia/Seoul"}
    assert_tables({t["key"]: t["rows"] for t in doc["tables"]}, want)


def parse(value: str):
    if value == "":
        return None
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value


async def test_dasi_stats_end_to_end(year, tmp_path, capsys):
    from assistant.cli.main import main

    _, data = year
    await close_engines()  # the CLI runs its own event loop: no engine may be shared with this one
    want = expected(data, date(YEAR, 1, 1), date(YEAR, 12, 31))
    args = ["stats", "--from", "2025-01-01", "--to", "2025-12-31"]
    import asyncio

    loop = asyncio.get_running_loop()
    out = tmp_path / "year.xlsx"
    assert await loop.run_in_executor(None, main, args + ["--format", "xlsx", "--out", str(out)]) == 0
    wb = load_workbook(out)
    assert wb.sheetnames == SHEETS_ALL
    ws = wb["총괄"]
    summary = {r[0]: list(r[1:]) for r in ws.iter_rows(min_row=stats_export.HEADER_ROW + 1, max_col=3,
                                                       values_only=True) if r[0]}
    assert {k: summary[k] for k in want["summary"] if k != "첫 응답 중앙값"} == {
        k: v for k, v in want["summary"].items() if k != "첫 응답 중앙값"}

    assert await loop.run_in_executor(None, main, args + ["--format", "csv", "--out", str(tmp_path / "c")]) == 0
    assert sorted(p.name for p in (tmp_path / "c").iterdir())[0] == "01_summary.csv"
    rows = list(csv.reader((tmp_path / "c" / "02_services.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert [parse(v) for v in rows[1][1:]] == want["services"]["구조 지원(건)"]

    capsys.readouterr()
    assert await loop.run_in_executor(None, main, args + ["--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert_tables({t["key"]: t["rows"] for t in doc["tables"]}, want)
    async with sessionmaker()() as s:
        runs = (await s.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.detail)
                                .where(AuditEntry.action == "stats.export").order_by(AuditEntry.id))).all()
    assert [(a, d["format"]) for a, _, d in runs] == [("cli", "xlsx"), ("cli", "csv"), ("cli", "json")]


async def test_the_api_is_for_supervisors_and_audited(env, database_url):
    from connectors.gateway import create_app

    env(DASI_DATABASE_URL=database_url)
    upgrade(database_url)
    roles = {"kim": "counsellor", "park": "supervisor", "choi": "editor", "jung": "admin"}
    async with sessionmaker()() as s, s.begin():
        for login, role in roles.items():
            await accounts.create_user(s, login, f"{login}-이름", role, "통계-비밀번호-2026",
                                       totp=role in accounts.TOTP_ROLES)
        await yeargen.generate(s, year=YEAR, seed=3, persons=60, services=400, conversations=150)
    async with sessionmaker()() as s:
        want = expected(await read_back(s), date(YEAR, 1, 1), date(YEAR, 12, 31))
    server = TestServer(create_app(get_settings()))
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    q = "?from=2025-01-01&to=2025-12-31"
    try:
        async with aiohttp.ClientSession() as anon:
            assert (await anon.get(base + "/api/console/stats" + q)).status == 401
            page = await anon.get(base + "/console/stats")
            html = await page.text()
            csp = page.headers["Content-Security-Policy"]
            assert page.status == 200 and "script-src 'self'" in csp and "unsafe-inline" not in csp
            assert '<script src="/static/console/stats.js"' in html and "<script>" not in html and "style=" not in html
            js = await (await anon.get(base + "/static/console/stats.js")).text()
            assert "createElementNS" in js and "http" not in js.replace("http://www.w3.org/2000/svg", "")
        for login, role in roles.items():
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                code = await totp_code(login)  # supervisors and admins have TOTP
                r = await http.post(base + "/api/console/login",
                                    json={"login": login, "password": "통계-비밀번호-2026", "totp": code})
                assert r.status == 200
                resp = await http.get(base + "/api/console/stats" + q)
                xlsx = await http.get(base + "/api/console/stats.xlsx" + q)
                if role != "supervisor":
                    assert resp.status == xlsx.status == 403, login
                    assert (await resp.json())["error"] == "forbidden"
                    continue
                assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
                doc = await resp.json()
                assert_tables({t["key"]: t["rows"] for t in doc["tables"]}, want)
                assert xlsx.status == 200 and "attachment" in xlsx.headers["Content-Disposition"]
                wb = load_workbook(io.BytesIO(await xlsx.read()))
                assert wb.sheetnames == SHEETS_ALL
                bad = await http.get(base + "/api/console/stats?from=2025-12-31&to=2025-01-01")
                assert bad.status == 400 and (await bad.json())["error"] == "invalid_period"
        async with sessionmaker()() as s:
            audit = (await s.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.record_id)
                                     .where(AuditEntry.action.like("stats.%")).order_by(AuditEntry.id))).all()
        assert audit == [("user:park", "stats.view", "2025-01-01 ~ 2025-12-31"),
                         ("user:park", "stats.export", "2025-01-01 ~ 2025-12-31")]
    finally:
        await server.close()
        await close_engines()


async def test_the_page_draws_its_charts_under_the_csp(env, tmp_path):
    """Headless Chromium: a supervisor opens /console/stats, picks 2025; charts (inline SVG) and every
    table appear, and the browser reports no CSP violation (no inline script or style is used)."""
    from playwright.async_api import async_playwright, expect

    from connectors.gateway import create_app

    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("no /usr/bin/chromium")
    url = f"sqlite:///{tmp_path / 'page.db'}"
    env(DASI_DATABASE_URL=url)
    upgrade(url)
    async with sessionmaker()() as s, s.begin():
        await accounts.create_user(s, "park", "박감독", "supervisor", "통계-비밀번호-2026", totp=True)
        await yeargen.generate(s, year=YEAR, seed=5, persons=40, services=300, conversations=120)
    async with sessionmaker()() as s:
        want = expected(await read_back(s), date(YEAR, 1, 1), date(YEAR, 12, 31))["summary"]
    server = TestServer(create_app(get_settings()))
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    problems: list[str] = []
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(chromium), args=["--headless", "--no-sandbox"])
            page = await browser.new_page()
            # Errors (a CSP violation is one), and failed requests other than the browser's favicon guess.
            page.on("console", lambda m: problems.append(m.text) if m.type == "error"
                    and not m.text.startswith("Failed to load resource") else None)
            page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400
                    and not r.url.endswith("/favicon.ico") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            login = await page.request.post(base + "/api/console/login",
                                            data={"login": "park", "password": "통계-비밀번호-2026",
                                                  "totp": await totp_code("park")})
            assert login.ok
            await page.goto(base + "/console/stats")
            await page.fill("input[name=from]", "2025-01-01")
            await page.fill("input[name=to]", "2025-12-31")
            await page.click("button[type=submit]")
            await expect(page.locator("#period-label")).to_contain_text("2025-01-01 ~ 2025-12-31")
            summary = await page.locator("#summary").inner_text()
            for label in ("실인원", "서비스 건수", "상담원 연결 요청"):
                assert f"{label}\n{want[label][0]:,} {want[label][1]}" in summary, (label, summary)
            for chart in ("kinds", "hours", "channels", "routes", "levels"):
                assert await page.locator(f"#chart-{chart} svg rect").count() > 0, chart
            assert await page.locator("#chart-hours svg text", has_text="23시").count() == 1
            assert await page.locator("#tables table").count() == len(SHEETS_ALL)
            assert "2025-01-01" in (await page.get_attribute("#xlsx", "href"))
            await browser.close()
    finally:
        await server.close()
        await close_engines()
    assert not problems, problems


async def test_the_generator_is_deterministic_for_a_seed(env, tmp_path):
    """Same seed, same year (figure for figure); another seed, another year."""
    results = []
    for name, seed in (("a", 21), ("b", 21), ("c", 22)):
        url = f"sqlite:///{tmp_path / name}.db"
        upgrade(url)
        async with sessionmaker(url)() as s, s.begin():
            await yeargen.generate(s, year=YEAR, seed=seed, persons=30, services=200, conversations=60)
        async with sessionmaker(url)() as s:
            results.append(stats_export.to_json(await stats.compute(s, stats.Period(date(YEAR, 1, 1),
                                                                                     date(YEAR, 12, 31)))))
    await close_engines()
    assert results[0] == results[1] and results[0] != results[2]
