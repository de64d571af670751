"""Case records through the real gateway, on SQLite and PostgreSQL: case numbers (per KST year, distinct
under parallel openings), every allowed and refused workflow move (iterated from workflow.TRANSITIONS),
closing and its follow-ups, reopening, permissions by role and ownership, the audit of every read
(without content), linking a new conversation to a person, and bad input refused with nothing stored."""
from __future__ import annotations

import asyncio
import json
from collections import deque
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import func, select

from assistant.store.db import sessionmaker
from casebook.cases import workflow
from casebook.console.pages import STATIC
from casebook.conversations import service as conv_service
from casebook.models import (
    AuditEntry,
    Case,
    CaseDocument,
    CaseEntry,
    CaseMember,
    CaseService,
    CaseStep,
    FollowUp,
    Person,
)
from tests.console_client import Staff

pytestmark = pytest.mark.usefixtures("cheap_hashes")  # test accounts: argon2 at its lowest cost

SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture
def staff(gateway):
    """`await staff("kim")`: a browser signed in as kim (tests.console_client.USERS)."""
    return gateway[1]


async def queued(user: str, channel: str = "web", text_: str = "도와주세요") -> str:
    """A conversation waiting for a counsellor."""
    async with sessionmaker()() as s, s.begin():
        conv = await conv_service.get_or_create_conversation(s, channel, user)
        await conv_service.store_inbound(s, conv, text_, None)
        await conv_service.request_handoff(s, conv, "bot", reason="requested")
        return conv.public_id


def new_person(name: str = "가명-하늘", **extra) -> dict:
    return {"name": name, "contact": {"phone": "010-0000-0000"}, "youth": False, **extra}


async def open_case(b: Staff, status: int = 201, **body) -> dict:
    body.setdefault("route", "visit")
    if "person_id" not in body and "conversation_id" not in body:
        body.setdefault("person", new_person())
    return (await b.json("POST", "/api/console/cases", body, status))


def sample_data(move: workflow.Transition) -> dict:
    """What a move needs, built from its own declaration in the table."""
    data = {}
    for name in move.required:
        if name in move.choices:
            data[name] = move.choices[name][0]
        elif name == "eligible":
            data[name] = True
        elif name.endswith("_date"):
            data[name] = "2025-01-15"
        else:
            data[name] = f"{name} 기록"
    return data


def path_to(target: str) -> list[str]:
    """The shortest sequence of steps from intake to `target`, searched over workflow.TRANSITIONS."""
    previous: dict[str, str | None] = {"intake": None}
    todo = deque(["intake"])
    while todo:
        step = todo.popleft()
        for (frm, to) in workflow.TRANSITIONS:
            if frm == step and to not in previous:
                previous[to] = step
                todo.append(to)
    route, step = [], target
    while previous[step] is not None:
        route.append(step)
        step = previous[step]
    return list(reversed(route))


async def move(b: Staff, number: str, to: str, status: int = 200, data: dict | None = None, **extra) -> dict:
    current = (await b.json("GET", f"/api/console/cases/{number}"))["case"]["step"]
    body = {"to": to, "data": sample_data(workflow.TRANSITIONS[(current, to)]) if data is None else data, **extra}
    return await b.json("POST", f"/api/console/cases/{number}/transition", body, status)


async def case_at(b: Staff, step: str, on: str | None = None, **open_body) -> str:
    number = (await open_case(b, **open_body))["case"]["number"]
    for to in path_to(step):
        await move(b, number, to, **({"on": on} if on else {}))
    return number


async def count(model) -> int:
    async with sessionmaker()() as s:
        return await s.scalar(select(func.count()).select_from(model))


# --- case numbers -------------------------------------------------------------------------------------

async def test_numbers_follow_the_korean_year_and_stay_distinct_when_opened_at_once(staff):
    kim, lee = await staff("kim"), await staff("lee")
    first = (await open_case(kim, opened_at="2025-02-01"))["case"]
    # 10 openings at once from two signed-in counsellors, for new people and (with no write before the
    # number is taken) for kim's existing person: 10 distinct numbers, 2..11 of that year.
    results = await asyncio.gather(*[
        open_case(b, opened_at="2025-03-01", **({"person": new_person(f"동시-{i}")} if b is lee
                                               else {"person_id": first["person"]["id"]}))
        for i, b in enumerate([kim, lee] * 5)])
    numbers = [r["case"]["number"] for r in results]
    assert len(set(numbers)) == 10 and first["number"] == "2025-0001"
    assert sorted(int(n.split("-")[1]) for n in numbers) == list(range(2, 12))
    assert all(n.startswith("2025-") and len(n) == 9 for n in numbers)
    # The KST year decides: 2025-12-31 15:30 UTC is already 2026 in Seoul; 14:30 UTC is not.
    for moment in ("2025-12-31T15:30:00+00:00", "2025-12-31T14:30:00+00:00", "2026-01-01T08:00:00"):
        parsed = datetime.fromisoformat(moment)
        year = (parsed if parsed.tzinfo else parsed.replace(tzinfo=SEOUL)).astimezone(SEOUL).year
        got = (await open_case(kim, opened_at=moment))["case"]
        async with sessionmaker()() as s:
            expected_seq = await s.scalar(select(func.count()).select_from(Case).where(Case.year == year))
        assert got["number"] == f"{year}-{expected_seq:04d}"
        assert datetime.fromisoformat(got["opened_at"]) == (parsed if parsed.tzinfo else parsed.replace(tzinfo=SEOUL))
    async with sessionmaker()() as s:
        stored = (await s.execute(select(Case.year, Case.seq, Case.number))).all()
    assert len({(y, q) for y, q, _ in stored}) == len(stored) == 14
    assert all(n == f"{y}-{q:04d}" for y, q, n in stored)


async def test_the_list_is_newest_first_filtered_and_paged(staff):
    kim = await staff("kim")
    opened = ["2025-01-01", "2025-06-01", "2024-03-01", "2025-06-01T18:00:00"]
    numbers = [(await open_case(kim, opened_at=day))["case"]["number"] for day in opened]
    expected = [n for _, n in sorted(zip([datetime.fromisoformat(d) for d in opened], numbers, strict=True),
                                     reverse=True)]
    listed = await kim.json("GET", "/api/console/cases")
    assert [c["number"] for c in listed["cases"]] == expected and listed["total"] == 4
    page = await kim.json("GET", "/api/console/cases?limit=2&offset=1")
    assert [c["number"] for c in page["cases"]] == expected[1:3] and page["total"] == 4
    await move(kim, numbers[2], "eligibility")
    only = await kim.json("GET", "/api/console/cases?step=eligibility")
    assert [c["number"] for c in only["cases"]] == [numbers[2]] and only["total"] == 1
    first = only["cases"][0]
    assert (first["step_label"] == workflow.STEPS["eligibility"]
            and first["owner"] == {"login": "kim", "name": "kim-이름"})
    assert first["person"]["name"] == new_person()["name"] and first["due_followups"] == 0


# --- the workflow, from its table -----------------------------------------------------------------------

async def test_every_allowed_move_in_the_table(staff):
    kim = await staff("kim")
    for (frm, to), transition in workflow.TRANSITIONS.items():
        number = await case_at(kim, frm, on="2025-02-05", opened_at="2025-02-01")
        data = sample_data(transition)
        case = (await kim.json("POST", f"/api/console/cases/{number}/transition",
                               {"to": to, "data": data, "on": "2025-02-10"}))["case"]
        assert case["step"] == to and case["step_label"] == workflow.STEPS[to]
        last = case["steps"][-1]
        assert (last["from"], last["to"], last["label"], last["actor"]) == (frm, to, transition.label, "kim-이름")
        assert last["data"] == data and last["on"].startswith("2025-02-10")
        expected_allowed = sorted((t, m.name) for (f, t), m in workflow.TRANSITIONS.items() if f == to)
        assert sorted((a["to"], a["name"]) for a in case["allowed"]) == expected_allowed
        for allowed in case["allowed"]:
            assert allowed["required"] == list(workflow.TRANSITIONS[(to, allowed["to"])].required)
    async with sessionmaker()() as s:  # every case has its intake plus one row per move made
        steps = await s.scalar(select(func.count()).select_from(CaseStep))
    assert steps == sum(len(path_to(frm)) + 2 for frm, _ in workflow.TRANSITIONS)


async def test_refused_moves_and_missing_data(staff):
    kim = await staff("kim")
    at = {step: await case_at(kim, step) for step in workflow.STEPS}
    for step, number in at.items():
        for to in workflow.STEPS:
            if (step, to) in workflow.TRANSITIONS:
                continue
            body = await kim.json("POST", f"/api/console/cases/{number}/transition", {"to": to, "data": {}}, 409)
            assert body["error"] == "transition_refused" and body["missing"] == [] and body["message"]
    for step, number in at.items():  # nothing moved
        assert (await kim.json("GET", f"/api/console/cases/{number}"))["case"]["step"] == step
    # Each required field, left out, is named; a value outside the choices is refused too.
    for (frm, to), transition in workflow.TRANSITIONS.items():
        for name in transition.required:
            data = sample_data(transition)
            del data[name]
            body = await kim.json("POST", f"/api/console/cases/{at[frm]}/transition", {"to": to, "data": data}, 409)
            assert body["missing"] == [name], (frm, to, body)
            data[name] = ""
            body = await kim.json("POST", f"/api/console/cases/{at[frm]}/transition", {"to": to, "data": data}, 409)
            assert body["missing"] == [name]
        for name in transition.choices:
            data = {**sample_data(transition), name: "없는-값"}
            body = await kim.json("POST", f"/api/console/cases/{at[frm]}/transition", {"to": to, "data": data}, 409)
            assert body["error"] == "transition_refused"
    # Closing as a referral needs the organisation.
    number = at["service"]
    body = await kim.json("POST", f"/api/console/cases/{number}/transition",
                          {"to": "closed", "data": {"reason": "referred"}}, 409)
    assert body["missing"] == ["referred_to"]
    case = (await kim.json("POST", f"/api/console/cases/{number}/transition",
                           {"to": "closed", "data": {"reason": "referred", "referred_to": "지원기관"}}))["case"]
    assert case["referred_out"] is True and case["close_reason"] == "referred"


async def test_two_moves_at_once_only_one_wins(staff):
    kim, lee = await staff("kim"), await staff("park")
    number = (await open_case(kim))["case"]["number"]
    data = sample_data(workflow.TRANSITIONS[("intake", "eligibility")])
    path = f"/api/console/cases/{number}/transition"
    results = await asyncio.gather(*[b.post(path, {"to": "eligibility", "data": data}) for b in (kim, lee) * 2])
    assert sorted(r.status for r in results) == [200, 409, 409, 409]
    steps = (await kim.json("GET", f"/api/console/cases/{number}"))["case"]["steps"]
    assert [(s["from"], s["to"]) for s in steps] == [(None, "intake"), ("intake", "eligibility")]


async def test_plan_stores_the_support_level(staff):
    kim = await staff("kim")
    number = await case_at(kim, "assessment")
    data = {**sample_data(workflow.TRANSITIONS[("assessment", "planning")]), "support_level": "intensive"}
    case = (await move(kim, number, "planning", data=data))["case"]
    assert case["support_level"] == "intensive"
    listed = (await kim.json("GET", "/api/console/cases"))["cases"]
    assert [c["support_level"] for c in listed if c["number"] == number] == ["intensive"]


# --- closing, follow-ups, reopening ------------------------------------------------------------------

def months_later(day: date, months: int) -> date:
    """Independent of the app: step month by month, clamping to the month's last day."""
    y, m = day.year, day.month
    for _ in range(months):
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    last = (date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1)).day
    return date(y, m, min(day.day, last))


async def test_closing_schedules_follow_ups_due_when_their_date_passed_and_reopening_cancels_them(staff):
    kim = await staff("kim")
    today = datetime.now(SEOUL).date()
    old = await case_at(kim, "service", on="2025-01-20", opened_at="2025-01-10")
    close_on = date(2025, 8, 31)  # a month end: +6 months is the end of February
    case = (await move(kim, old, "closed", data={"reason": "goals_met"}, on=close_on.isoformat()))["case"]
    assert case["closed_at"].startswith("2025-08-3") and case["close_reason"] == "goals_met"
    expected = {m: months_later(close_on, m) for m in workflow.FOLLOW_UP_MONTHS}
    assert {f["months"]: f["due_on"] for f in case["followups"]} == {m: d.isoformat() for m, d in expected.items()}
    assert [f["due"] for f in case["followups"]] == [d <= today for d in expected.values()]

    recent = await case_at(kim, "service")
    fresh = (await move(kim, recent, "closed", data={"reason": "declined"}))["case"]  # closed today
    assert [f["due"] for f in fresh["followups"]] == [False, False]

    listed = {c["number"]: c for c in (await kim.json("GET", "/api/console/cases?due=1"))["cases"]}
    assert set(listed) == {old} and listed[old]["due_followups"] == 2
    due = (await kim.json("GET", "/api/console/followups/due"))["followups"]
    assert [(f["case"], f["months"]) for f in due] == [(old, 3), (old, 6)]

    first = case["followups"][0]["id"]
    after = (await kim.json("POST", f"/api/console/cases/{old}/followups/{first}/done",
                            {"note": "안부 확인", "on": "2025-12-01"}))["case"]
    done = after["followups"][0]
    assert done["done_at"].startswith("2025-12-01") and done["done_by"] == "kim-이름" and done["due"] is False
    await kim.json("POST", f"/api/console/cases/{old}/followups/{first}/done", {}, 409)  # once only
    assert [f["case"] for f in (await kim.json("GET", "/api/console/followups/due"))["followups"]] == [old]

    # No services on a closed case; in aftercare again.
    await kim.json("POST", f"/api/console/cases/{old}/services", {"kind": "emotional", "minutes": 30}, 409)
    await move(kim, old, "aftercare")
    await kim.json("POST", f"/api/console/cases/{old}/services", {"kind": "emotional", "minutes": 30}, 201)

    reopened = (await move(kim, old, "assessment", data={"reason": "다시 연락"}))["case"]
    assert reopened["reopened"] == 1 and reopened["closed_at"] is None and reopened["step"] == "assessment"
    assert [(f["done_at"] is not None, f["cancelled"]) for f in reopened["followups"]] == [(True, False), (False, True)]
    assert (await kim.json("GET", "/api/console/followups/due"))["followups"] == []
    assert reopened["steps"][-1]["label"] == workflow.TRANSITIONS[("aftercare", "assessment")].label
    # Reopened straight from closed as well: counted again.
    await move(kim, old, "closed", data={"reason": "no_contact"})
    again = (await move(kim, old, "assessment", data={"reason": "재의뢰"}))["case"]
    assert again["reopened"] == 2 and sum(not f["cancelled"] for f in again["followups"]) == 1


# --- permissions --------------------------------------------------------------------------------------

async def test_counsellors_see_their_cases_supervisors_all_other_roles_none(staff):
    kim, lee, park = await staff("kim"), await staff("lee"), await staff("park")
    a = (await open_case(kim, person=new_person("김의-사람")))["case"]
    b = (await open_case(lee, person=new_person("이의-사람")))["case"]
    upload = aiohttp.FormData()
    upload.add_field("file", b"%PDF-1.4 test", filename="b.pdf", content_type="application/pdf")
    doc = await lee.post(f"/api/console/cases/{b['number']}/documents", data=upload)
    assert doc.status == 201
    doc_id = (await doc.json())["document"]["id"]

    assert [c["number"] for c in (await kim.json("GET", "/api/console/cases"))["cases"]] == [a["number"]]
    assert (await kim.json("GET", "/api/console/cases"))["total"] == 1
    bb = f"/api/console/cases/{b['number']}"
    for resp in [await kim.get(bb), await kim.get(f"{bb}/documents/{doc_id}"),
                 await kim.post(f"{bb}/services", {"kind": "emotional", "minutes": 10}),
                 await kim.post(f"{bb}/entries", {"kind": "note", "body": {"text": "x"}}),
                 await kim.post(f"{bb}/transition", {"to": "eligibility", "data": {"eligible": True, "reason": "r"}}),
                 await kim.post(f"{bb}/members", {"login": "kim"}),
                 await kim.get(f"/api/console/persons/{b['person']['id']}")]:
        assert resp.status == 403, resp.url
    upload = aiohttp.FormData()
    upload.add_field("file", b"x", filename="x.txt", content_type="text/plain")
    assert (await kim.post(f"{bb}/documents", data=upload)).status == 403
    async with sessionmaker()() as s:
        assert await s.scalar(select(func.count()).select_from(CaseService)) == 0
        assert await s.scalar(select(func.count()).select_from(CaseDocument)) == 1
        denied = (await s.scalars(select(AuditEntry.action).where(AuditEntry.actor == "user:kim",
                                                                  AuditEntry.action.like("%.denied")))).all()
    assert "case.view.denied" in denied and "case.document.view.denied" in denied and "person.view.denied" in denied

    # The supervisor sees both; `mine` narrows to their own (none).
    park_list = await park.json("GET", "/api/console/cases")
    assert {c["number"] for c in park_list["cases"]} == {a["number"], b["number"]} and park_list["total"] == 2
    assert (await park.json("GET", "/api/console/cases?mine=1"))["total"] == 0
    await park.json("GET", bb)

    # The owner adds a member; the member may work on it but not add others or change the owner.
    await lee.json("POST", f"{bb}/members", {"login": "kim"})
    assert {c["number"] for c in (await kim.json("GET", "/api/console/cases"))["cases"]} == {a["number"], b["number"]}
    detail = (await kim.json("GET", bb))["case"]
    assert detail["members"] == [{"login": "kim", "name": "kim-이름"}] and detail["owner"]["login"] == "lee"
    await kim.json("POST", f"{bb}/services", {"kind": "emotional", "minutes": 10}, 201)
    assert (await kim.post(f"{bb}/members", {"login": "park"})).status == 403
    assert (await kim.post(f"{bb}/owner", {"login": "kim"})).status == 403
    # The supervisor moves kim's case to lee: lee now sees it, kim no longer does.
    moved = (await park.json("POST", f"/api/console/cases/{a['number']}/owner", {"login": "lee"}))["case"]
    assert moved["owner"] == {"login": "lee", "name": "lee-이름"}
    assert (await kim.get(f"/api/console/cases/{a['number']}")).status == 403
    await lee.json("GET", f"/api/console/cases/{a['number']}")
    assert (await park.post(f"{bb}/owner", {"login": "choi"})).status == 400  # an editor cannot own cases

    for login in ("choi", "jung"):  # editor and admin: no case records at all
        other = await staff(login)
        for resp in [await other.get("/api/console/cases"), await other.get(bb),
                     await other.get("/api/console/followups/due"),
                     await other.get(f"/api/console/persons/{b['person']['id']}"),
                     await other.post("/api/console/cases", {"route": "visit", "person": new_person()})]:
            assert resp.status == 403, (login, resp.url)
    assert await count(Case) == 2


# --- audit --------------------------------------------------------------------------------------------

async def test_every_read_is_audited_and_no_content_reaches_the_log(staff):
    kim, park = await staff("kim"), await staff("park")
    planted = ["PLANTED홍길동", "010-7731-4242", "PLANTED메모", "PLANTED가해자", "PLANTED.pdf", "PLANTEDBYTES",
               "PLANTED기관", "PLANTED사유"]
    case = (await open_case(kim, person={"name": planted[0], "contact": {"phone": planted[1]}},
                            referred_by=planted[6], route="referral"))["case"]
    number, person_id = case["number"], case["person"]["id"]
    base = f"/api/console/cases/{number}"
    await kim.json("POST", f"{base}/entries", {"kind": "note", "body": {"text": planted[2]}}, 201)
    await kim.json("POST", f"{base}/entries", {"kind": "incident", "body": {
        "what": planted[2], "when": "2025년 봄", "where": "서울", "perpetrators": [planted[3]]}}, 201)
    await kim.json("POST", f"{base}/services", {"kind": "legal", "minutes": 40, "partner": planted[6],
                                                "note": planted[2]}, 201)
    await kim.json("POST", f"{base}/transition", {"to": "eligibility", "data": {"eligible": True,
                                                                                "reason": planted[7]}})
    upload = aiohttp.FormData()
    upload.add_field("file", planted[5].encode(), filename=planted[4], content_type="application/pdf")
    doc_id = (await (await kim.post(f"{base}/documents", data=upload)).json())["document"]["id"]
    async with sessionmaker()() as s:
        before = await s.scalar(select(func.max(AuditEntry.id)))

    download = await kim.get(f"{base}/documents/{doc_id}")
    assert download.status == 200 and await download.read() == planted[5].encode()
    assert download.headers["Content-Disposition"].startswith("attachment;")
    detail = (await kim.json("GET", base))["case"]
    assert detail["person"]["name"] == planted[0] and detail["entries"][1]["body"]["perpetrators"] == [planted[3]]
    await kim.json("GET", "/api/console/cases")
    await kim.json("GET", f"/api/console/persons/{person_id}")
    await kim.json("GET", "/api/console/followups/due")
    await park.json("GET", base)

    async with sessionmaker()() as s:
        reads = (await s.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.record_type,
                                        AuditEntry.record_id).where(AuditEntry.id > before)
                                 .order_by(AuditEntry.id))).all()
        rows = (await s.scalars(select(AuditEntry))).all()
    assert [tuple(r) for r in reads] == [
        ("user:kim", "case.document.view", "case", number), ("user:kim", "case.view", "case", number),
        ("user:kim", "case.list", "case", ""), ("user:kim", "person.view", "person", str(person_id)),
        ("user:kim", "followups.due", "case", ""), ("user:park", "case.view", "case", number)]
    dumped = "\n".join(json.dumps([r.actor, r.action, r.record_type, r.record_id, r.ip, r.detail],
                                  ensure_ascii=False) for r in rows)
    assert "case.open" in dumped and "case.entry" in dumped and "case.document" in dumped
    for secret in planted:
        assert secret not in dumped, secret

    # At rest the document and the entries are ciphertext.
    async with sessionmaker()() as s:
        raw = (await s.execute(select(func.count()).select_from(CaseDocument)
                               .where(CaseDocument.content.contains("PLANTED")))).scalar()
    assert raw == 0


# --- people and conversations --------------------------------------------------------------------------

async def test_a_new_conversation_is_linked_to_an_existing_person(staff):
    kim, lee = await staff("kim"), await staff("lee")
    first = await queued("person-a", "web")
    assert (await kim.post(f"/api/console/conversations/{first}/claim")).status == 200
    case = (await kim.json("POST", "/api/console/cases", {"conversation_id": first, "route": "phone",
                                                           "person": new_person("가명-바다")}, 201))["case"]
    assert (case["route"], case["channel"]) == ("online", "web")
    assert [c["id"] for c in case["conversations"]] == [first]
    assert [(s["from"], s["to"]) for s in case["steps"]] == [(None, "intake")]
    person_id = case["person"]["id"]

    second = await queued("person-a-kakao", "kakao")  # the same person, another channel, days later
    # Not held by lee and lee has no case with the person: refused.
    assert (await lee.post(f"/api/console/conversations/{second}/person", {"person_id": person_id})).status == 403
    assert (await kim.post(f"/api/console/conversations/{second}/claim")).status == 200
    linked = (await kim.json("POST", f"/api/console/conversations/{second}/person", {"person_id": person_id}))
    assert linked["person"]["id"] == person_id
    view = (await kim.json("GET", f"/api/console/persons/{person_id}"))["person"]
    assert [c["id"] for c in view["conversations"]] == [first, second]
    assert [c["channel"] for c in view["conversations"]] == ["web", "kakao"]
    assert view["cases"] == [case["number"]] and view["name"] == "가명-바다"

    # A second case for the same person (continuing support), opened from the new conversation.
    later = (await kim.json("POST", "/api/console/cases", {"conversation_id": second}, 201))["case"]
    assert later["person"]["id"] == person_id and later["channel"] == "kakao"
    view = (await kim.json("GET", f"/api/console/persons/{person_id}"))["person"]
    assert view["cases"] == [case["number"], later["number"]]
    detail = (await kim.json("GET", f"/api/console/cases/{case['number']}"))["case"]
    assert [c["id"] for c in detail["conversations"]] == [first, second]

    # A conversation already linked to someone else is not silently moved.
    other = (await open_case(kim, person=new_person("다른-사람")))["case"]["person"]["id"]
    assert (await kim.post(f"/api/console/conversations/{second}/person", {"person_id": other})).status == 409
    async with sessionmaker()() as s:
        assert await s.scalar(select(func.count()).select_from(Person)) == 2


# --- bad input ----------------------------------------------------------------------------------------

async def test_bad_input_is_refused_clearly_and_nothing_is_stored(staff):
    kim = await staff("kim")
    number = (await open_case(kim, opened_at="2025-05-01"))["case"]["number"]
    base = f"/api/console/cases/{number}"
    models = (Person, Case, CaseStep, CaseService, CaseEntry, CaseDocument, FollowUp, CaseMember)
    before = [await count(m) for m in models]
    bad = [
        ("/api/console/cases", {"route": "boat", "person": new_person()}, 400),
        ("/api/console/cases", {"route": "visit", "person_id": "7"}, 400),
        ("/api/console/cases", {"route": "visit", "person_id": 99999}, 400),
        ("/api/console/cases", {"route": "visit", "person": {"name": 5}}, 400),
        ("/api/console/cases", {"route": "visit", "person": {"name": "a", "age": 3}}, 400),
        ("/api/console/cases", {"route": "visit", "person": {"name": "a", "contact": {"phone": 1}}}, 400),
        ("/api/console/cases", {"route": "visit", "person": {"name": "a", "youth": "yes"}}, 400),
        ("/api/console/cases", {"route": "visit", "person": new_person(), "opened_at": "2025-13-45"}, 400),
        ("/api/console/cases", {"route": "visit", "person": new_person(), "opened_at": "2099-01-01"}, 400),
        ("/api/console/cases", {"route": "visit", "person": new_person(), "opened_at": 20250101}, 400),
        ("/api/console/cases", {"route": "visit", "person": new_person(), "colour": "red"}, 400),
        ("/api/console/cases", {"route": "visit"}, 400),
        ("/api/console/cases", {"conversation_id": "00000000-0000-0000-0000-000000000000"}, 404),
        (f"{base}/services", {"kind": "massage", "minutes": 30}, 400),
        (f"{base}/services", {"kind": "emotional", "minutes": "30"}, 400),
        (f"{base}/services", {"kind": "emotional", "minutes": -1}, 400),
        (f"{base}/services", {"kind": "emotional", "minutes": True}, 400),
        (f"{base}/services", {"kind": "emotional", "minutes": 30, "on": "yesterday"}, 400),
        (f"{base}/services", {"kind": "emotional", "minutes": 30, "on": "2025-04-30"}, 400),  # before opening
        (f"{base}/services", {"kind": "legal", "minutes": 30}, 400),  # partner required
        (f"{base}/entries", {"kind": "gossip", "body": {"text": "x"}}, 400),
        (f"{base}/entries", {"kind": "note", "body": {}}, 400),
        (f"{base}/entries", {"kind": "note", "body": "text"}, 400),
        (f"{base}/entries", {"kind": "incident", "body": {"what": "x", "why": "y"}}, 400),
        (f"{base}/entries", {"kind": "note", "body": {"text": "가" * 10_001}}, 413),
        (f"{base}/transition", {"to": "nowhere", "data": {}}, 400),
        (f"{base}/transition", {"to": "eligibility", "data": ["eligible"]}, 400),
        (f"{base}/transition", {"to": "eligibility", "data": {"eligible": "yes", "reason": "r"}}, 400),
        (f"{base}/transition", {"to": "eligibility", "data": {"eligible": True, "reason": "r"}, "on": "2025-02-30"},
         400),
        (f"{base}/followups/1/done", {}, 404),
        (f"{base}/members", {"login": "nobody"}, 400),
        ("/api/console/cases/2025-9999", None, 404),
        ("/api/console/cases", {"route": "visit", "person_id": 10**12}, 400),
        ("/api/console/persons/99999999999999", None, 404),
        (f"{base}/documents/99999999999999", None, 404),
        (f"{base}/followups/99999999999999/done", {}, 404),
    ]
    for path, body, status in bad:
        resp = await (kim.get(path) if body is None else kim.post(path, body))
        payload = await resp.json()
        assert resp.status == status and payload["error"] and payload["message"], (path, body, resp.status, payload)
    not_json = await kim.http.post(kim.base + f"{base}/services", data="kind=emotional",
                                   headers={"X-CSRF-Token": kim.csrf, "Content-Type": "text/plain"})
    assert not_json.status == 415
    for query in ("step=flying", "limit=abc", "limit=0", "limit=100000", "offset=-1"):
        assert (await kim.get(f"/api/console/cases?{query}")).status == 400, query

    # Documents: too large (10 MB + 1 byte), empty, not multipart, no file field.
    limit = 10 * 1024 * 1024
    big = aiohttp.FormData()
    big.add_field("file", b"\0" * (limit + 1), filename="big.bin", content_type="application/octet-stream")
    resp = await kim.post(f"{base}/documents", data=big)
    assert resp.status == 413 and (await resp.json())["error"] == "file_too_large"
    empty = aiohttp.FormData()
    empty.add_field("file", b"", filename="empty.txt", content_type="text/plain")
    assert (await kim.post(f"{base}/documents", data=empty)).status == 400
    assert (await kim.post(f"{base}/documents", {"file": "abc"})).status == 415
    other = aiohttp.FormData(default_to_multipart=True)
    other.add_field("note", "no file here")
    assert (await kim.post(f"{base}/documents", data=other)).status == 400
    for ctype, raw in (("multipart/form-data", b"no boundary"),
                       ("multipart/form-data; boundary=xyz", b"--xyz\r\nbroken")):
        resp = await kim.http.post(kim.base + f"{base}/documents", data=raw,
                                   headers={"X-CSRF-Token": kim.csrf, "Content-Type": ctype})
        assert resp.status == 400, (ctype, resp.status, await resp.text())
    assert [await count(m) for m in models] == before

    # Exactly at the limit is accepted and comes back byte for byte.
    payload = bytes(range(256)) * (limit // 256)
    ok_form = aiohttp.FormData()
    ok_form.add_field("file", payload, filename="증빙 자료.bin", content_type="application/octet-stream")
    resp = await kim.post(f"{base}/documents", data=ok_form)
    assert resp.status == 201, await resp.text()
    doc = (await resp.json())["document"]
    assert (doc["filename"], doc["size"]) == ("증빙 자료.bin", limit)
    got = await kim.get(f"{base}/documents/{doc['id']}")
    assert got.status == 200 and await got.read() == payload
    assert "filename*=UTF-8''%EC%A6%9D" in got.headers["Content-Disposition"]


async def test_the_page_is_served_with_the_console_headers(staff):
    b = await staff()
    resp = await b.get("/console/cases")
    assert resp.status == (200 if (STATIC / "cases.html").is_file() else 404)
    if resp.status == 200:
        assert resp.headers["Cache-Control"] == "no-store" and resp.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert (await b.get("/api/console/cases")).status == 401  # the data needs a sign-in
