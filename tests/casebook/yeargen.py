"""A realistic year of the centre's work, generated straight into the database (tests, bench, demos).

Deterministic for a seed (apart from ciphertexts and server-side timestamps nobody counts): persons,
cases walked through the workflow's own TRANSITIONS (every step reached, closures with 3- and
6-month follow-ups some of them done, reopenings), services of every kind, and conversations on
several channels at all hours with handoffs, claims and counsellor replies. Boundary cases are
generated on purpose: cases opened the year before (continuing) or closed before the year
(only their follow-ups count), items in the next year, events minutes either side of midnight KST
on 1 January, erased persons and purged cases and conversations.

Rows go in with bulk INSERTs (RETURNING ids where later rows need them): a year takes seconds.
    python -m tests.casebook.yeargen --year 2025 --seed 7
"""
from __future__ import annotations

import argparse
import asyncio
import calendar
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.core.clock import KST
from assistant.store import crypto
from casebook.cases import workflow
from casebook.models import (
    Assignment,
    Case,
    CaseService,
    CaseStep,
    Conversation,
    ConversationEvent,
    FollowUp,
    Message,
    Person,
    User,
)

CHANNEL_WEIGHTS = {"kakao": 40, "web": 30, "instagram": 15, "messenger": 8, "x": 7}
ROUTE_WEIGHTS = {"online": 45, "phone": 25, "visit": 15, "referral": 15}
LEVEL_WEIGHTS = {"urgent": 15, "intensive": 35, "general": 50}
# Roughly the report's mix (정서 1,937 / 법률 518 / 의료 186 / 심리 142 / 기관연계등 226).
KIND_WEIGHTS = {"emotional": 60, "legal": 15, "medical": 6, "psych": 5, "linkage": 6, "selfhelp": 3,
                "material": 2, "group": 3}
# People write at night more than by day: relative weight per hour (KST).
HOUR_WEIGHTS = [5, 4, 3, 2, 1, 1, 1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 5, 6, 6, 7, 8, 9, 9, 7]
PARTNERS = {"legal": ["법률지원단 ○○법률사무소", "대한법률구조공단"],
            "medical": ["의료지원단 ○○산부인과", "○○정신건강의학과"],
            "linkage": ["○○ 지원시설", "○○ 자활지원센터", "○○구 고용복지센터"]}
USER_LINES = ["상담하고 싶어요", "선불금 때문에 그만두지 못하고 있어요", "도움을 받을 수 있을까요",
              "연락처 남겨도 되나요"]
COUNSELLOR_LINES = ["안녕하세요, 상담원입니다. 편하게 말씀해 주세요.", "지금 안전한 곳에 계신가요?",
                    "센터에서 함께 방법을 찾아볼게요."]


@dataclass
class YearPlan:
    """What was generated (counts; the tests recompute every figure from the rows themselves)."""

    year: int
    seed: int
    persons: int = 0
    cases: int = 0
    services: int = 0
    services_in_year: int = 0
    conversations: int = 0
    messages: int = 0
    events: int = 0
    followups: int = 0
    steps: dict[str, int] = field(default_factory=dict)  # final step -> cases


def kst(d: date, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(d, time(hour, minute, second), KST).astimezone(UTC)


def add_months(moment: datetime, months: int) -> datetime:
    local = moment.astimezone(KST)
    y, m = divmod(local.month - 1 + months, 12)
    day = min(local.day, calendar.monthrange(local.year + y, m + 1)[1])
    return local.replace(year=local.year + y, month=m + 1, day=day).astimezone(UTC)


class _Gen:
    def __init__(self, rng: random.Random, year: int) -> None:
        self.rng, self.year = rng, year
        self.start, self.end = kst(date(year, 1, 1)), kst(date(year + 1, 1, 1))
        self.asof = kst(date(year + 1, 3, 31))  # "now" for the generated world

    def pick(self, weights: dict[str, int]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def day_time(self, d: date, hours: list[int] | None = None) -> datetime:
        hour = self.rng.choices(range(24), weights=hours or HOUR_WEIGHTS)[0]
        return kst(d, hour, self.rng.randrange(60), self.rng.randrange(60))

    def work_time(self, moment: datetime) -> datetime:
        """The same day in office hours (services and steps happen in the centre's hours)."""
        d = moment.astimezone(KST).date()
        return kst(d, self.rng.randrange(9, 18), self.rng.randrange(60), self.rng.randrange(60))

    def date_in(self, lo: datetime, hi: datetime) -> datetime:
        return lo + timedelta(seconds=self.rng.uniform(0, max(1.0, (hi - lo).total_seconds())))


async def _counsellors(session: AsyncSession, n: int = 8) -> list[tuple[int, str]]:
    """Generated counsellors (disabled, unusable password): the year's staff."""
    logins = [f"yeargen-{i:02d}" for i in range(1, n + 1)]
    existing = {login: uid for uid, login in (await session.execute(
        select(User.id, User.login).where(User.login.in_(logins)))).all()}
    new = [{"login": login, "name": f"상담원{i + 1:02d}", "role": "counsellor", "password_hash": "!", "disabled": True}
           for i, login in enumerate(logins) if login not in existing]
    if new:
        ids = await _insert_ids(session, User, new)
        existing.update({row["login"]: uid for row, uid in zip(new, ids, strict=True)})
    return [(existing[login], login) for login in logins]


# Core INSERTs (executemany / insertmanyvalues): every row carries the same keys, None included.
async def _insert_ids(session: AsyncSession, model, rows: list[dict]) -> list[int]:
    if not rows:
        return []
    table = model.__table__
    stmt = table.insert().returning(table.c.id, sort_by_parameter_order=True)
    return list((await session.scalars(stmt, rows)).all())


async def _insert(session: AsyncSession, model, rows: list[dict]) -> None:
    if rows:
        await session.execute(model.__table__.insert(), rows)


def _walk(g: _Gen, opened: datetime, speed: float,
          stall: str | None = None) -> list[tuple[str | None, str, datetime, dict]]:
    """A case's moves through workflow.TRANSITIONS until the generated world's "now"."""
    rng = g.rng
    moves: list[tuple[str | None, str, datetime, dict]] = [(None, "intake", opened, {})]
    step, at, planned = "intake", opened, 0

    def gap(lo: float, hi: float) -> timedelta:
        return timedelta(days=rng.uniform(lo, hi) * speed, hours=rng.uniform(0, 8))

    while step != stall:  # a stalled case waits in that step (no answer, no decision yet)
        if step == "intake":
            to, d = "eligibility", gap(1, 7)
        elif step == "eligibility":
            to, d = ("closed" if rng.random() < 0.06 else "assessment"), gap(1, 10)
        elif step == "assessment":
            to, d = ("closed" if rng.random() < 0.04 else "planning"), gap(3, 14)
        elif step == "planning":
            to, d = "service", gap(1, 7)
        elif step == "service":
            to, d = ("closed" if rng.random() < 0.08 else "monitoring"), gap(20, 80)
        elif step == "monitoring":
            r = rng.random()
            to = "service" if r < 0.3 else "planning" if r < 0.4 and planned < 3 else "closed"
            d = gap(7, 30)
        elif step == "closed":
            r = rng.random()
            if r < 0.2:  # some stay closed without aftercare
                break
            to, d = ("assessment" if r < 0.28 else "aftercare"), gap(0, 14)
        else:  # aftercare
            if rng.random() > 0.1:
                break
            to, d = "assessment", gap(30, 120)
        nxt = at + d
        if nxt > g.asof:
            break
        data = _data(g, step, to)
        workflow.check(step, to, data)  # the generator obeys the same table as the service layer
        moves.append((step, to, nxt, data))
        if to == "planning":
            planned += 1
        step, at = to, nxt
    return moves


def _data(g: _Gen, frm: str, to: str) -> dict:
    rng = g.rng
    t = workflow.TRANSITIONS[(frm, to)]
    if t.name == "decide":
        return {"eligible": True, "reason": "성매매 피해 상담 대상"}
    if t.name == "plan":
        return {"consent_date": "동의", "consent_scope": "사례관리 전반", "needs": "법률·의료 지원",
                "support_level": g.pick(LEVEL_WEIGHTS)}
    if t.name == "start_services":
        return {"goals": "안전 확보, 법률 지원"}
    if t.name == "monitor":
        return {"review": "목표 점검"}
    if t.name == "close":
        reason = "not_eligible" if frm == "eligibility" else rng.choice(list(workflow.CLOSE_REASONS))
        return {"reason": reason, "referred_out": reason == "referred",
                **({"referred_to": "○○ 지원시설"} if reason == "referred" else {})}
    if t.name == "reopen":
        return {"reason": "재상담 요청"}
    return {}


async def generate(session: AsyncSession, *, year: int = 2025, seed: int = 7, persons: int = 340,
                   cases: int | None = None, services: int = 4300, conversations: int | None = None
                   ) -> YearPlan:
    """Generate a year into the session's database (the caller commits). `services` is how many fall
    in the year itself (a few more fall before or after it)."""
    rng = random.Random(seed)
    g = _Gen(rng, year)
    plan = YearPlan(year=year, seed=seed)
    staff = await _counsellors(session)
    n_cases = cases if cases is not None else int(persons * 1.2)
    n_convs = conversations if conversations is not None else persons * 4

    # Persons, first seen over the year before and the year.
    person_rows = []
    for i in range(persons):
        created = g.date_in(kst(date(year - 1, 3, 1)), kst(date(year, 12, 20)))
        erased = rng.random() < 0.05
        person_rows.append({"name": None if erased else f"내담자{i + 1:04d}",
                            "contact": None if erased else {"phone": f"010-{rng.randrange(10**4):04d}-{i:04d}"},
                            "youth": rng.random() < 0.12, "created_by": rng.choice(staff)[0], "created_at": created,
                            "erased_at": g.asof if erased else None})
    person_ids = await _insert_ids(session, Person, person_rows)
    plan.persons = len(person_ids)

    # Cases: every person one, some two or more; opening dates around the year.
    owners = [person_ids[i % persons] for i in range(n_cases)]
    rng.shuffle(owners)
    specs = []
    for pid in owners:
        r = rng.random()
        if r < 0.12:  # opened the year before, still going into the year (continuing)
            opened = g.date_in(kst(date(year - 1, 3, 1)), g.start)
        elif r < 0.16:  # opened and (usually) closed well before the year
            opened = g.date_in(kst(date(year - 1, 1, 1)), kst(date(year - 1, 4, 1)))
        elif r < 0.20:  # the next year: outside the period
            opened = g.date_in(g.end, kst(date(year + 1, 2, 28)))
        elif r < 0.21:  # minutes either side of midnight KST on 1 January
            opened = g.start + timedelta(minutes=rng.choice([-20, -5, 5, 20]))
        else:
            opened = g.date_in(g.start, g.end)
        route = g.pick(ROUTE_WEIGHTS)
        specs.append({"pid": pid, "opened": opened, "route": route,
                      "channel": g.pick(CHANNEL_WEIGHTS) if route == "online" else None,
                      "speed": rng.choice([0.5, 0.8, 1, 1, 1.5, 2, 3, 5]),
                      "intensity": rng.choice([0.5, 1, 1, 2, 3])})
    specs.sort(key=lambda s: s["opened"])

    # Conversations: those that led to online cases first, then the rest of the year's.
    conv_rows: list[dict] = []
    conv_meta: list[dict] = []

    def new_conv(channel: str, created: datetime, person: int | None, handoff: bool) -> int:
        conv_rows.append({"public_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "channel": channel,
                          "user_key": crypto.blind_index(channel, f"yeargen-{seed}-{len(conv_rows)}"),
                          "user_ref": f"yeargen-{seed}-{len(conv_rows)}", "state": "bot",
                          "youth": rng.random() < 0.1, "created_at": created, "updated_at": created,
                          "person_id": person, "waiting_since": None, "purged_at": None})
        conv_meta.append({"handoff": handoff})
        return len(conv_rows) - 1

    for s in specs:
        if s["route"] == "online":
            s["conv"] = new_conv(s["channel"], s["opened"] - timedelta(hours=rng.uniform(0.5, 30)), s["pid"], True)
    while len(conv_rows) < n_convs:
        r = rng.random()
        if r < 0.03:
            d = date(year - 1, 12, rng.randrange(25, 32))
        elif r < 0.06:
            d = date(year + 1, 1, rng.randrange(1, 8))
        else:
            d = date(year, 1, 1) + timedelta(days=rng.randrange(365))
        created = g.day_time(d)
        if r < 0.01:  # just around midnight KST, 1 January
            created = g.start + timedelta(minutes=rng.choice([-30, -2, 2, 30]))
        linked = rng.choice(person_ids) if rng.random() < 0.15 else None
        new_conv(g.pick(CHANNEL_WEIGHTS), created, linked, rng.random() < 0.45)

    # The conversations' life: handoffs, claims, counsellor replies, releases, closings.
    messages: list[tuple[int, dict]] = []  # (conversation index, row)
    events: list[tuple[int, dict]] = []
    assignments: list[tuple[int, dict]] = []
    for ci, row in enumerate(conv_rows):
        ch, at = row["channel"], row["created_at"]
        events.append((ci, {"kind": "opened", "actor": "system", "detail": {"channel": ch}, "created_at": at}))
        messages.append((ci, _msg("in", "user", rng.choice(USER_LINES), ch, at)))
        messages.append((ci, _msg("out", "bot", "무엇을 도와드릴까요?", ch, at + timedelta(seconds=2))))
        state, t = "bot", at + timedelta(seconds=2)
        if ch == "kakao" and rng.random() < 0.2:
            events.append((ci, {"kind": "handoff_channel", "actor": "system",
                                "detail": {"to": "kakao_1on1", "how": "operator_button"},
                                "created_at": t + timedelta(seconds=30)}))
        rounds = (1 + (rng.random() < 0.15)) if conv_meta[ci]["handoff"] else 0
        for _ in range(rounds):
            t += timedelta(minutes=rng.uniform(1, 15))
            reason = "safety_screen" if rng.random() < 0.1 else "requested"
            actor = "safety_screen" if reason == "safety_screen" else "bot"
            events.append((ci, {"kind": "state", "actor": actor, "detail": {"old": state, "new": "waiting",
                                                                            "reason": reason}, "created_at": t}))
            messages.append((ci, _msg("in", "user", "상담원 연결해 주세요", ch, t - timedelta(seconds=1))))
            state = "waiting"
            if rng.random() > 0.85:  # nobody claimed it: back to the bot later, or still waiting
                if rng.random() < 0.5:
                    t += timedelta(hours=rng.uniform(1, 12))
                    events.append((ci, _state("system", state, "bot", "timeout", t)))
                    state = "bot"
                    continue
                break
            t += _wait(g, t)
            uid, login = rng.choice(staff)
            events.append((ci, _state(f"user:{login}", state, "counsellor", "claim", t)))
            assignments.append((ci, {"user_id": uid, "started_at": t, "ended_at": None}))
            messages.append((ci, _msg("out", "system", "상담원이 연결되었습니다.", ch, t)))
            state = "counsellor"
            t += timedelta(seconds=rng.uniform(20, 240))
            for _k in range(rng.randint(1, 4)):
                messages.append((ci, _msg("out", "counsellor", rng.choice(COUNSELLOR_LINES), ch, t)))
                t += timedelta(minutes=rng.uniform(1, 6))
                messages.append((ci, _msg("in", "user", rng.choice(USER_LINES), ch, t)))
                t += timedelta(minutes=rng.uniform(0.5, 4))
            end = "bot" if rng.random() < 0.4 else "closed"
            events.append((ci, _state(f"user:{login}", state, end, "release" if end == "bot" else "close", t)))
            assignments[-1][1]["ended_at"] = t
            state = end
            if state == "closed":
                break
        row["state"], row["updated_at"] = state, t
        if state == "waiting":
            row["waiting_since"] = t
        if row["created_at"] < kst(date(year, 3, 1)) and rng.random() < 0.1:  # retention erased the content
            row["purged_at"] = g.asof
    conv_ids = await _insert_ids(session, Conversation, conv_rows)
    plan.conversations = len(conv_ids)
    purged = {conv_ids[i] for i, r in enumerate(conv_rows) if r.get("purged_at")}
    msg_rows = [{**m, "conversation_id": conv_ids[ci]} for ci, m in messages]
    for m in msg_rows:
        if m["conversation_id"] in purged:
            m["text"] = None
    await _insert(session, Message, msg_rows)
    await _insert(session, ConversationEvent, [{**e, "conversation_id": conv_ids[ci]} for ci, e in events])
    await _insert(session, Assignment, [{**a, "conversation_id": conv_ids[ci]} for ci, a in assignments])
    plan.messages, plan.events = len(msg_rows), len(events)

    # Case numbers continue each year's sequence.
    seqs = {y: int(n or 0) for y, n in (await session.execute(select(Case.year, func.max(Case.seq))
                                                              .group_by(Case.year))).all()}
    case_rows, walks = [], []
    for s in specs:
        stall = rng.choice(workflow.OPEN_STEPS) if rng.random() < 0.12 else None
        moves = _walk(g, s["opened"], s["speed"], stall)
        walks.append(moves)
        y = s["opened"].astimezone(KST).year
        seqs[y] = seqs.get(y, 0) + 1
        closed_at, reason, referred, level, reopened = None, None, False, None, 0
        for frm, to, on, data in moves[1:]:
            if to == "closed":
                closed_at, reason, referred = on, data["reason"], bool(data.get("referred_out"))
            elif frm in workflow.ENDED_STEPS and to == "assessment":
                closed_at, reopened = None, reopened + 1
            if to == "planning" and "support_level" in data:
                level = data["support_level"]
        final = moves[-1][1]
        plan.steps[final] = plan.steps.get(final, 0) + 1
        owner = rng.choice(staff)[0]
        s["owner"] = owner
        case_rows.append({
            "year": y, "seq": seqs[y], "number": f"{y}-{seqs[y]:04d}", "person_id": s["pid"],
            "conversation_id": conv_ids[s["conv"]] if "conv" in s else None, "route": s["route"],
            "channel": s["channel"], "referred_by": "○○경찰서" if s["route"] == "referral" else None,
            "step": final, "support_level": level, "owner_id": owner, "opened_at": s["opened"],
            "closed_at": closed_at, "close_reason": reason if closed_at else None,
            "referred_out": referred if closed_at else False, "reopened": reopened, "updated_at": moves[-1][2],
            "purged_at": (g.asof if closed_at and closed_at < kst(date(year - 1, 7, 1)) and rng.random() < 0.3
                          else None)})
    case_ids = await _insert_ids(session, Case, case_rows)
    plan.cases = len(case_ids)

    step_rows, fu_rows, windows = [], [], []
    for cid, s, moves in zip(case_ids, specs, walks, strict=True):
        open_fus: list[dict] = []
        for (frm, to, on, data), nxt in zip(moves, moves[1:] + [None], strict=True):
            step_rows.append({"case_id": cid, "from_step": frm, "to_step": to, "on": on, "actor_id": s["owner"],
                              "data": data if frm else {"route": s["route"]}, "created_at": on})
            until = nxt[2] if nxt else g.asof
            if to != "closed":  # services only while open or in aftercare
                weight = 3 if to in ("service", "monitoring") else 1
                windows.append((cid, s, on, until, weight * s["intensity"]))
            if to == "closed":
                for months in workflow.FOLLOW_UP_MONTHS:
                    fu = {"case_id": cid, "months": months, "due_on": add_months(on, months), "cancelled": False,
                          "done_at": None, "done_by": None, "note": None}
                    fu_rows.append(fu)
                    open_fus.append(fu)
            elif frm in workflow.ENDED_STEPS and to == "assessment":  # reopened: open follow-ups cancelled
                for fu in open_fus:
                    if fu["due_on"] <= on and rng.random() < 0.7:
                        fu["done_at"], fu["done_by"] = g.date_in(fu["due_on"], on), s["owner"]
                    else:
                        fu["cancelled"] = True
                open_fus = []
        for fu in open_fus:
            done = fu["due_on"] + timedelta(days=rng.uniform(-5, 25))
            if done <= g.asof and rng.random() < 0.7:
                fu["done_at"], fu["done_by"], fu["note"] = done, s["owner"], "안정적으로 지내고 있음"
    await _insert(session, CaseStep, step_rows)
    await _insert(session, FollowUp, fu_rows)
    plan.followups = len(fu_rows)

    # Services: spread over the open windows by length and intensity until the year has enough.
    cum, total = [], 0.0
    for _, _, lo, hi, w in windows:
        total += max(1.0, (hi - lo).total_seconds() / 86400) * w
        cum.append(total)
    svc_rows: list[dict] = []
    in_year = 0
    guard = services * 20
    while in_year < services and guard > 0:
        guard -= 1
        cid, s, lo, hi, _ = rng.choices(windows, cum_weights=cum)[0]
        on = g.work_time(g.date_in(lo, hi))
        if not lo <= on < hi:
            on = g.date_in(lo, hi)
        kind = g.pick(KIND_WEIGHTS)
        svc_rows.append({"case_id": cid, "kind": kind, "on": on, "counsellor_id": rng.choice(staff)[0],
                         "minutes": rng.choice([10, 20, 30, 30, 40, 60, 90, 120]),
                         "partner": rng.choice(PARTNERS[kind]) if kind in workflow.PARTNER_KINDS else None,
                         "note": "상담 진행" if rng.random() < 0.3 else None, "created_at": on})
        in_year += g.start <= on < g.end
    await _insert(session, CaseService, svc_rows)
    plan.services, plan.services_in_year = len(svc_rows), in_year
    await session.flush()
    return plan


def _msg(direction: str, author: str, text: str, channel: str, at: datetime) -> dict:
    return {"direction": direction, "author": author, "text": text, "channel": channel, "created_at": at,
            "delivery": "sent" if direction == "out" else "stored"}


def _state(actor: str, old: str, new: str, reason: str, at: datetime) -> dict:
    return {"kind": "state", "actor": actor, "detail": {"old": old, "new": new, "reason": reason}, "created_at": at}


def _wait(g: _Gen, asked: datetime) -> timedelta:
    """How long until a counsellor claims: minutes in office hours, until the morning at night."""
    local = asked.astimezone(KST)
    minutes = g.rng.lognormvariate(2.0, 0.8)  # median ~7 minutes
    if not (local.weekday() < 5 and 9 <= local.hour < 18) and g.rng.random() < 0.6:
        minutes += g.rng.uniform(30, 600)
    return timedelta(minutes=minutes)


def main(argv: list[str] | None = None) -> int:
    from assistant.store.db import close_engines, sessionmaker

    p = argparse.ArgumentParser(prog="python -m tests.casebook.yeargen", description="generate a year of casebook data")
    p.add_argument("--year", type=int, default=2025)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--persons", type=int, default=340)
    p.add_argument("--services", type=int, default=4300)
    args = p.parse_args(argv)

    async def run() -> YearPlan:
        try:
            async with sessionmaker()() as s, s.begin():
                return await generate(s, year=args.year, seed=args.seed, persons=args.persons, services=args.services)
        finally:
            await close_engines()
    plan = asyncio.run(run())
    print(f"{plan.year}: {plan.persons} persons, {plan.cases} cases, {plan.services} services "
          f"({plan.services_in_year} in the year), {plan.conversations} conversations, {plan.messages} messages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
