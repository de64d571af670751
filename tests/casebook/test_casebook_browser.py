"""Case records in real headless Chromium against the whole stack (as `dasi up` starts it): a person
writes in the web chat and asks for a counsellor; the counsellor claims the conversation in /console,
opens a case from it and takes the case through the workflow to closure on /console/cases, with a legal
service and a referral on; the follow-ups at 3 and 6 months appear; a refused move shows the server's
message. A walk-in case made with the "새 사례" form gets a note, a document and a second conversation
linked to the same person; backdated, its follow-ups are due and one is marked done. A supervisor sees
every case and the statistics link. What the page shows is checked against the API and the database."""
from __future__ import annotations

import re
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pyotp
import pytest
from playwright.async_api import expect

from tests.browser import PASSWORD, ask_for_a_person, console_page, victim_page

# The stack (gateway, Rasa, actions; counsellor "kim"), the browser and the page helpers of the console test.
from tests.conftest import ROOT
from tests.stack import DASI

pytestmark = pytest.mark.e2e

KST = ZoneInfo("Asia/Seoul")
NUMBER = re.compile(r"^(\d{4})-(\d{4})$")
WORKFLOW = ["intake", "eligibility", "assessment", "planning", "service", "monitoring", "closed"]


def kst_today() -> date:
    return datetime.now(KST).date()


@contextmanager
def database(stack) -> Iterator[sqlite3.Connection]:
    """The stack's own database, read directly (the e2e stack runs on SQLite)."""
    url = stack.env["DASI_DATABASE_URL"]
    assert url.startswith("sqlite:///"), url
    db = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        yield db
    finally:
        db.close()


def kst_day(raw: str) -> date:
    """A UTCDateTime column as SQLite stores it ("2027-02-26 03:00:00.000000[+00:00]"), as a Korean date."""
    moment = datetime.fromisoformat(raw[:19]).replace(tzinfo=UTC)
    return moment.astimezone(KST).date()


async def case_json(page, number: str) -> dict:
    """The case as the API gives it to this signed-in page (same cookies)."""
    return await page.evaluate(
        "n => fetch('/api/console/cases/' + n, {credentials: 'same-origin'}).then(r => r.json())", number)


async def move(page, to: str, fields: dict) -> None:
    """Click the move to `to`, fill the form the page generated for it and save."""
    await page.locator(f"#moves button[data-to='{to}']").click()
    form = page.locator("#move-form")
    await expect(form).to_be_visible()
    for name, value in fields.items():
        box = form.locator(f"[name='{name}']")
        kind = await box.evaluate("e => e.tagName === 'SELECT' ? 'select' : e.type")
        if kind == "select":
            await box.select_option(value)
        elif kind == "checkbox":
            await box.set_checked(bool(value))
        else:
            await box.fill(value)
    await form.locator("button[type=submit]").click()


async def at_step(page, step: str) -> None:
    await expect(page.locator("#stepbar li.current")).to_have_attribute("data-step", step)
    await expect(page.locator("#move-form")).to_be_hidden()


def watch(page) -> list[str]:
    """Script errors and CSP refusals on the page (the pages must work under the console's CSP)."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and (
        "Content Security Policy" in m.text or "Refused to" in m.text) else None)
    return problems


async def test_conversation_to_closed_case_with_followups(stack, browser, tmp_path):
    console = await console_page(browser, stack.url)
    victim = await victim_page(browser, stack.url)
    problems = watch(console)
    try:
        await _conversation_to_case(stack, console, victim, tmp_path)
        assert not problems, problems
    except BaseException:
        await console.screenshot(path=str(tmp_path / "console.png"), full_page=True)
        await victim.screenshot(path=str(tmp_path / "victim.png"), full_page=True)
        raise
    finally:
        await console.context.close()
        await victim.context.close()


async def _conversation_to_case(stack, console, victim, tmp_path) -> None:
    # 1. The person writes, then asks for a counsellor; the counsellor claims the conversation.
    bots = await victim.locator(".msg.bot").count()
    # (A neutral first message: a risky one would put the conversation in the queue by itself.)
    await victim.fill("#text", "안녕하세요. 상담 받는 방법이 궁금해요")
    await victim.press("#text", "Enter")
    await victim.wait_for_function("n => document.querySelectorAll('.msg.bot').length > n", arg=bots)
    conv, _ = await ask_for_a_person(victim, console)
    await console.locator(f"#queue-waiting li[data-id='{conv}']").click()
    await expect(console.locator("#transcript")).to_contain_text("상담 받는 방법이 궁금해요")
    await expect(console.locator("#open-case")).to_be_hidden()  # not before the conversation is taken
    await console.click("#claim")
    await expect(console.locator(f"#queue-held li[data-id='{conv}']")).to_be_visible()
    await expect(console.locator("#cases-link")).to_be_visible()
    await expect(console.locator("#stats-link")).to_be_hidden()  # supervisors only

    # 2. 사례 열기: a first-time person is asked for a name or alias, then the case page opens.
    await console.click("#open-case")
    await expect(console.locator("#case-form")).to_be_visible()
    await console.fill("#case-name", "나비")
    await console.click("#case-form button[type=submit]")
    await console.wait_for_url(re.compile(r"/console/cases#\d{4}-\d{4}$"))
    number = console.url.rsplit("#", 1)[1]
    assert int(NUMBER.match(number).group(1)) == kst_today().year
    page = console
    await expect(page.locator("#case-head")).to_contain_text(f"사례 {number}")
    await expect(page.locator("#case-head")).to_contain_text("나비")
    await expect(page.locator("#case-head")).to_contain_text("온라인 채널 (웹 채팅)")
    await at_step(page, "intake")
    await expect(page.locator(f"#conversations a[href='/console#{conv}']")).to_be_visible()

    # 3. Through the workflow, each move's form built from what the server says it needs.
    started = time.monotonic()
    await move(page, "eligibility", {"eligible": "true", "reason": "성매매 피해, 지원 대상"})
    await at_step(page, "eligibility")
    await move(page, "assessment", {})
    await at_step(page, "assessment")
    await move(page, "planning", {"consent_date": kst_today().isoformat(), "consent_scope": "사례관리 전반, 기관 연계",
                                  "needs": "선불금 법률 상담, 주거", "support_level": "intensive"})
    await at_step(page, "planning")
    await expect(page.locator("#case-head")).to_contain_text("지원 수준: 집중")
    await move(page, "service", {"goals": "선불금 채무 무효 확인, 안전한 주거"})
    await at_step(page, "service")

    # 4. A legal service with its partner; the partner box is there only for kinds that name one.
    form = page.locator("#service-form")
    await form.locator("[name=kind]").select_option("emotional")
    await expect(page.locator("#partner-row")).to_be_hidden()
    await form.locator("[name=kind]").select_option("legal")
    await expect(page.locator("#partner-row")).to_be_visible()
    await form.locator("[name=minutes]").fill("60")
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#service-error")).to_contain_text("연계 기관")  # not sent without a partner
    await form.locator("[name=partner]").fill("법률지원단 박변호사")
    await form.locator("[name=note]").fill("선불금 무효 소송 상담")
    await form.locator("button[type=submit]").click()
    row = page.locator("#service-rows tr[data-kind='legal']")
    await expect(row).to_contain_text("법률지원")
    await expect(row).to_contain_text("법률지원단 박변호사")
    await expect(row).to_contain_text("60")

    # 5. Monitoring, then closure with a referral on: the referred-to agency is required with that reason.
    await move(page, "monitoring", {"review": "법률 지원 진행, 주거 확보"})
    await at_step(page, "monitoring")
    await move(page, "closed", {"reason": "referred"})
    await expect(page.locator("#move-error")).to_contain_text("의뢰한 기관을 적어 주세요")
    await page.locator("#move-form [name=referred_out]").check()
    await page.locator("#move-form [name=referred_to]").fill("○○ 자립지원시설")
    before_close = kst_today()
    await page.locator("#move-form button[type=submit]").click()
    await at_step(page, "closed")
    after_close = kst_today()
    print(f"\ncase {number}: intake → closed in the browser (6 moves, 1 service, 1 refusal) in "
          f"{time.monotonic() - started:.1f} s")

    # 6. Two follow-ups, at 3 and 6 months, not yet due.
    followups = page.locator("#followups li[data-months]")
    await expect(followups).to_have_count(2)
    shown = {}
    for i in range(2):
        li = followups.nth(i)
        text = await li.inner_text()
        shown[int(await li.get_attribute("data-months"))] = date.fromisoformat(re.search(r"\d{4}-\d{2}-\d{2}", text)[0])
        assert "due" not in (await li.get_attribute("class") or "")
    assert sorted(shown) == [3, 6]

    # 7. A refused move: reopening needs a reason; the server's message shows by the form.
    await page.locator("#moves button[data-to='assessment']").click()
    await page.locator("#move-form button[type=submit]").click()
    error = page.locator("#move-error")
    await expect(error).to_contain_text("필요한 항목")
    await expect(error).to_contain_text("사유")
    await expect(page.locator("#move-form [data-field='reason']")).to_have_class(re.compile(r"\bmissing\b"))
    await expect(page.locator("#stepbar li.current")).to_have_attribute("data-step", "closed")
    await page.screenshot(path=str(tmp_path / "case.png"), full_page=True)

    # 8. The API agrees with the page ...
    case = (await case_json(page, number))["case"]
    assert [s["to"] for s in case["steps"]] == WORKFLOW
    assert [s["from"] for s in case["steps"]] == [None] + WORKFLOW[:-1]
    assert case["step"] == "closed" and case["close_reason"] == "referred" and case["referred_out"] is True
    assert case["support_level"] == "intensive"
    assert [(s["kind"], s["minutes"], s["partner"]) for s in case["services"]] == [("legal", 60, "법률지원단 박변호사")]
    assert {f["months"]: date.fromisoformat(f["due_on"]) for f in case["followups"]} == shown
    assert conv in [c["id"] for c in case["conversations"]]

    # ... and so does the database: steps in order, follow-ups due ≈ +3/+6 months, the conversation linked.
    with database(stack) as db:
        case_id, person_id, closed_at = db.execute(
            "SELECT id, person_id, closed_at FROM cases WHERE number = ?", (number,)).fetchone()
        steps = db.execute("SELECT from_step, to_step FROM case_steps WHERE case_id = ? ORDER BY id",
                           (case_id,)).fetchall()
        assert steps == list(zip([None] + WORKFLOW[:-1], WORKFLOW, strict=True))
        closed_on = kst_day(closed_at)
        assert closed_on in (before_close, after_close)
        assert 89 <= (shown[3] - closed_on).days <= 92, (closed_on, shown)  # 3 months ≈ 89–92 days
        assert 181 <= (shown[6] - closed_on).days <= 184, (closed_on, shown)
        due = dict(db.execute("SELECT months, due_on FROM case_followups WHERE case_id = ? AND cancelled = 0",
                              (case_id,)).fetchall())
        assert sorted(due) == [3, 6]
        assert {m: kst_day(v) for m, v in due.items()} == shown
        assert db.execute("SELECT person_id FROM conversations WHERE public_id = ?", (conv,)).fetchone()[0] == person_id
        assert db.execute("SELECT kind, minutes FROM case_services WHERE case_id = ?",
                          (case_id,)).fetchall() == [("legal", 60)]
        raw_name = db.execute("SELECT name FROM persons WHERE id = ?", (person_id,)).fetchone()[0]
        assert "나비" not in raw_name  # encrypted at rest

    # 9. The list shows it closed; no follow-up is due yet, so the "due" filter leaves it out.
    await page.locator("a.back").click()
    listed = page.locator(f"#case-rows tr[data-number='{number}']")
    await expect(listed).to_contain_text("종결")
    await expect(listed).to_contain_text("나비")
    await page.check("#f-due")
    await expect(listed).to_have_count(0)
    await page.uncheck("#f-due")
    await page.select_option("#f-step", "closed")
    await expect(listed).to_be_visible()

    # 10. The linked conversation opens in the console.
    await page.goto(f"{stack.url}/console/cases#{number}")
    await page.locator(f"#conversations a[href='/console#{conv}']").click()
    await page.wait_for_url(re.compile(r"/console#"))
    await expect(page.locator("#transcript")).to_contain_text("상담 받는 방법이 궁금해요")


async def test_walk_in_case_note_document_and_second_conversation(stack, browser, tmp_path):
    console = await console_page(browser, stack.url)
    problems = watch(console)
    try:
        await _walk_in(stack, browser, console)
        assert not problems, problems
    except BaseException:
        await console.screenshot(path=str(tmp_path / "console.png"), full_page=True)
        raise
    finally:
        await console.context.close()


async def _walk_in(stack, browser, console) -> None:
    page = console
    await page.goto(f"{stack.url}/console/cases")
    await page.click("#new-case")
    form = page.locator("#new-form")
    await form.locator("[name=name]").fill("방문 내담자 가")
    await form.locator("[name=phone]").fill("010-0000-1234")
    await form.locator("[name=route]").select_option("referral")
    await form.locator("[name=referred_by]").fill("○○경찰서 여성청소년과")
    opened = kst_today() - timedelta(days=240)  # backdated, so that its follow-ups are due by now
    await form.locator("[name=opened_at]").fill(opened.isoformat())
    await form.locator("button[type=submit]").click()
    await page.wait_for_url(re.compile(r"/console/cases#\d{4}-\d{4}$"))
    number = page.url.rsplit("#", 1)[1]
    head = page.locator("#case-head")
    await expect(head).to_contain_text("방문 내담자 가")
    await expect(head).to_contain_text("기관 의뢰")
    await expect(head).to_contain_text("○○경찰서 여성청소년과")
    await at_step(page, "intake")
    await expect(page.locator("#conversations")).to_contain_text("연결된 대화가 없어요")

    # A note and an incident.
    await page.click("#entries-note summary")
    await page.fill("#entries-note [name=text]", "경찰서 동행 후 첫 면담")
    await page.click("#entries-note button[type=submit]")
    await expect(page.locator("#entries-note ul")).to_contain_text("경찰서 동행 후 첫 면담")
    await page.click("#entries-incident summary")
    await page.fill("#entries-incident [name=what]", "선불금 강요")
    await page.fill("#entries-incident [name=where]", "○○시 업소")
    await page.click("#entries-incident button[type=submit]")
    await expect(page.locator("#entries-incident ul")).to_contain_text("어디서: ○○시 업소")

    # A document, uploaded and downloaded back unchanged.
    content = "진술 내용 요약\n".encode() * 100
    await page.set_input_files("#document-form [name=file]",
                               files=[{"name": "진술서.txt", "mimeType": "text/plain", "buffer": content}])
    await page.click("#document-form button[type=submit]")
    link = page.locator("#documents a", has_text="진술서.txt")
    await expect(link).to_be_visible()
    async with page.expect_download() as info:
        await link.click()
    download = await info.value
    assert (await download.path()).read_bytes() == content

    # Not eligible, closed seven months ago: both follow-ups are due, highlighted, and one is done.
    closed = kst_today() - timedelta(days=210)
    await move(page, "eligibility", {"eligible": "false", "reason": "타 지역 거주, 관할 기관 안내",
                                     "on": (opened + timedelta(days=1)).isoformat()})
    await at_step(page, "eligibility")
    await move(page, "closed", {"reason": "not_eligible", "on": closed.isoformat()})
    await at_step(page, "closed")
    due = page.locator("#followups li.due")
    await expect(due).to_have_count(2)
    await expect(due.first).to_contain_text("할 때가 됐어요")
    three = page.locator("#followups li[data-months='3']")
    await three.locator("input[name=note]").fill("전화 통화, 잘 지내심")
    await three.get_by_role("button", name="완료").click()
    await expect(three).to_have_class(re.compile(r"\bdone\b"))
    await expect(three).to_contain_text("완료")
    await expect(due).to_have_count(1)
    await page.locator("a.back").click()
    await page.check("#f-due")
    listed = page.locator(f"#case-rows tr[data-number='{number}']")
    await expect(listed).to_contain_text("1건 할 때가 됐어요")
    await expect(page.locator("#due-summary")).to_be_visible()

    # The same person writes again in the web chat: the counsellor links that conversation to them.
    victim = await victim_page(browser, stack.url)
    try:
        await page.goto(f"{stack.url}/console")
        await expect(page.locator("#live")).to_have_text("실시간")
        conv, _ = await ask_for_a_person(victim, page)
        await page.locator(f"#queue-waiting li[data-id='{conv}']").click()
        await page.click("#claim")
        await expect(page.locator(f"#queue-held li[data-id='{conv}']")).to_be_visible()
        await page.click("#person-box summary")
        await expect(page.locator("#person-pick option", has_text=number)).to_have_count(1)
        await page.locator("#person-pick").select_option(label=f"방문 내담자 가 · 사례 {number}")
        await page.click("#person-form button[type=submit]")
        await expect(page.locator("#alert")).to_contain_text("대화를 연결했어요")
    finally:
        await victim.context.close()

    case = (await case_json(page, number))["case"]
    assert conv in [c["id"] for c in case["conversations"]]
    assert [e["kind"] for e in case["entries"]] == ["note", "incident"]
    assert [(d["filename"], d["size"]) for d in case["documents"]] == [("진술서.txt", len(content))]
    assert datetime.fromisoformat(case["opened_at"]).astimezone(KST).date() == opened
    assert [s["to"] for s in case["steps"]] == ["intake", "eligibility", "closed"]
    assert case["steps"][1]["data"]["eligible"] is False
    done = {f["months"]: f for f in case["followups"]}
    assert done[3]["done_at"] and done[3]["note"] == "전화 통화, 잘 지내심" and not done[3]["due"]
    assert done[6]["due"] and not done[6]["done_at"]
    assert date.fromisoformat(done[3]["due_on"]) < kst_today() and date.fromisoformat(done[6]["due_on"]) <= kst_today()
    with database(stack) as db:
        person_id = db.execute("SELECT person_id FROM cases WHERE number = ?", (number,)).fetchone()[0]
        assert db.execute("SELECT person_id FROM conversations WHERE public_id = ?", (conv,)).fetchone()[0] == person_id
        stored = db.execute("SELECT content FROM case_documents "
                            "WHERE case_id = (SELECT id FROM cases WHERE number = ?)",
                            (number,)).fetchone()[0]
        assert "진술 내용".encode() not in (stored.encode() if isinstance(stored, str) else stored)

    # Back on the case page, the conversation is listed with a link to open it.
    await page.goto(f"{stack.url}/console/cases#{number}")
    await expect(page.locator(f"#conversations a[href='/console#{conv}']")).to_be_visible()


async def test_supervisor_sees_all_cases_and_the_stats_link(stack, browser):
    """Runs after the counsellor's tests (same stack): a supervisor sees kim's cases and may add members."""
    added = subprocess.run([str(DASI), "users", "add", "--login", "lee", "--name", "이슈퍼", "--role", "supervisor",
                            "--totp"], input=PASSWORD + "\n", text=True, env=stack.env, cwd=ROOT, check=True,
                           capture_output=True)
    totp = pyotp.parse_uri(added.stdout.split("authenticator app: ")[1].strip())  # supervisors need TOTP
    context = await browser.new_context(viewport={"width": 1366, "height": 800}, locale="ko-KR")
    page = await context.new_page()
    page.set_default_timeout(30_000)
    problems = watch(page)
    try:
        await page.goto(f"{stack.url}/console/cases")
        await expect(page.locator("#signed-out")).to_be_visible()  # no data before signing in
        await page.goto(f"{stack.url}/console")
        await page.fill("#login-form input[name=login]", "lee")
        await page.fill("#login-form input[name=password]", PASSWORD)
        await page.fill("#login-form input[name=totp]", totp.now())
        await page.click("#login-form button[type=submit]")
        await expect(page.locator("#stats-link")).to_be_visible()
        await page.click("#cases-link")
        await expect(page.locator("#stats-link")).to_be_visible()
        rows = page.locator("#case-rows tr[data-number]")
        await expect(rows.first).to_be_visible()
        with database(stack) as db:
            numbers = {n for (n,) in db.execute("SELECT number FROM cases").fetchall()}
        assert len(numbers) >= 2
        assert set(await rows.evaluate_all("rs => rs.map(r => r.dataset.number)")) == numbers
        await expect(page.locator("#case-total")).to_have_text(str(len(numbers)))
        await page.check("#f-mine")  # lee owns none of them
        await expect(rows).to_have_count(0)
        await page.uncheck("#f-mine")
        first = sorted(numbers)[0]
        await page.locator(f"#case-rows tr[data-number='{first}'] a").click()
        await expect(page.locator("#case-head")).to_contain_text(f"사례 {first}")
        await expect(page.locator("#people-panel")).to_be_visible()
        await page.locator("#member-login").select_option("lee")
        await page.click("#member-form button[value=member]")
        await expect(page.locator("#members")).to_contain_text("이슈퍼")
        case = (await case_json(page, first))["case"]
        assert [m["login"] for m in case["members"]] == ["lee"] and case["owner"]["login"] == "kim"
        assert not problems, problems
    finally:
        await context.close()
