"""Case records through the real gateway, on SQLite and PostgreSQL: case numbers (per KST year, distinct
under parallel openings), the case list, every allowed and refused workflow move (iterated from
workflow.TRANSITIONS), concurrent moves, and closing with its follow-ups and reopening."""
from __future__ import annotations

import asyncio
from collections import deque
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from assistant.store.db import sessionmaker
from casebook.cases import workflow
from casebook.models import Case, CaseStep
from tests.casebook.case_helpers import new_person, open_case
from tests.console_client import Staff

pytestmark = pytest.mark.usefixtures("cheap_hashes")  # test accounts: argon2 at its lowest cost

SEOUL = ZoneInfo("Asia/Seoul")


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
