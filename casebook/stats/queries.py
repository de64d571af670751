"""The centre's yearly statistics (2025 주요업무보고, sections II and III), as anonymous counts.

Only clear columns are read (dates, step codes, service kinds, minutes, route, channel, support
level, event kinds): never an encrypted one, so the figures survive retention (erased persons,
purged cases and conversations keep their rows) and a statistics run never decrypts anything.

Definitions (period = [from 00:00, to+1 00:00) in Korean time):
- a case is *in the period* when it was opened before the period ended and either was still open
  during it (not closed, or closed on/after its start) or had a service or a follow-up done in it;
  *new* = opened in the period, *continuing* = opened before it.
- 실인원 (people): distinct persons of the cases in the period, each counted once however many
  cases, services or channels they had; 건수: every service counted each time it was given.
- a *handoff* is a conversation's move to the counsellor queue: a conversation_events row of kind
  "state" with detail.new == "waiting" (casebook.conversations.service.request_handoff). Kakao's own 1:1
  chat offer (kind "handoff_channel") is counted on its own. Hours are Korean time.
- time to first counsellor reply: from a handoff to the conversation's first message by author
  "counsellor" at or after it and before the conversation's next handoff; median over the
  handoffs that got a reply in that window.
"""
from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Integer, and_, case, cast, distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.core.clock import KST
from casebook.cases import workflow
from casebook.models import Case, CaseService, Conversation, ConversationEvent, FollowUp, Message

CHANNELS: dict[str, str] = {"web": "웹 채팅", "kakao": "카카오톡", "instagram": "인스타그램",
                            "messenger": "메신저", "x": "X"}
# The report's 구조 지원 table has five columns; everything past 심리지원 goes under 기관연계등.
REPORT_KINDS = ("emotional", "legal", "medical", "psych")
REPORT_COLUMNS = ("정서적지원", "법률지원", "의료지원", "심리지원", "기관연계등")
NO_LEVEL = "미정"
TOTAL = "합계"


def channel_label(code: str | None) -> str:
    return CHANNELS.get(code or "", code or "기타")


def route_label(route: str, channel: str | None) -> str:
    """One row per route, and per channel for online cases (온라인 · 카카오톡)."""
    base = workflow.ROUTES.get(route, route)
    return f"{base} · {channel_label(channel)}" if route == "online" else base


@dataclass(frozen=True)
class Period:
    start: date  # first day, inclusive
    end: date  # last day, inclusive

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("the period ends before it starts")

    @property
    def lo(self) -> datetime:
        return datetime.combine(self.start, time(), KST)

    @property
    def hi(self) -> datetime:  # exclusive
        return datetime.combine(self.end + timedelta(days=1), time(), KST)

    def label(self) -> str:
        return f"{self.start.isoformat()} ~ {self.end.isoformat()}"


@dataclass
class Table:
    """One table of the report: Korean column headers; each row starts with its label (구 분)."""

    key: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""

    def as_dict(self) -> dict:
        return {"key": self.key, "title": self.title, "columns": self.columns, "rows": self.rows, "note": self.note}

    def row(self, label: str) -> list[Any]:
        return next(r for r in self.rows if r[0] == label)


@dataclass
class Stats:
    period: Period
    summary: dict[str, Any]
    tables: list[Table] = field(default_factory=list)

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)

    def as_dict(self) -> dict:
        return {"period": {"from": self.period.start.isoformat(), "to": self.period.end.isoformat(),
                           "timezone": "Asia/Seoul"},
                "summary": self.summary, "tables": [t.as_dict() for t in self.tables]}


# Tables from packages above casebook (detection's outreach): a coroutine (session, period) -> [Table]
# that compute() appends when the caller passes it. The gateway's sections are in the app
# (casebook.console.stats.SECTIONS), the CLI's in casebook.cli.stats.SECTIONS: each package adds its own
# from its wiring, never imported here (casebook is the lower layer).
Section = Callable[[AsyncSession, "Period"], Awaitable[list[Table]]]


# --- dialect-specific bits: the hour in Korean time and seconds between two timestamps -------------

def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def kst_hour(session: AsyncSession, column):
    if _dialect(session) == "sqlite":  # stored as UTC text; Korea has no daylight saving time
        return cast(func.strftime("%H", column, "+9 hours"), Integer)
    return cast(func.extract("hour", func.timezone("Asia/Seoul", column)), Integer)


def seconds_between(session: AsyncSession, later, earlier):
    if _dialect(session) == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


def _handoff(event=ConversationEvent):
    return and_(event.kind == "state", event.detail["new"].as_string() == "waiting")


def _n(value: Any) -> int:
    return int(value or 0)


# --- the queries ------------------------------------------------------------------------------------

class _Scope:
    """The cases in the period, as a reusable WHERE clause (see the module docstring)."""

    def __init__(self, period: Period) -> None:
        lo, hi = period.lo, period.hi
        self.lo, self.hi = lo, hi
        served = select(CaseService.case_id).where(CaseService.on >= lo, CaseService.on < hi)
        followed = select(FollowUp.case_id).where(FollowUp.done_at >= lo, FollowUp.done_at < hi)
        self.where = and_(Case.opened_at < hi, or_(Case.closed_at.is_(None), Case.closed_at >= lo,
                                                   Case.id.in_(served), Case.id.in_(followed)))
        self.new = Case.opened_at >= lo
        self.closed = and_(Case.closed_at >= lo, Case.closed_at < hi)
        self.service_in = and_(CaseService.on >= lo, CaseService.on < hi)


async def _case_rows(session: AsyncSession, scope: _Scope, *dims) -> list:
    """Per dimension value: cases, new, persons, closed in the period, closed with a referral out."""
    stmt = (select(*dims, func.count(Case.id), func.sum(case((scope.new, 1), else_=0)),
                   func.count(distinct(Case.person_id)), func.sum(case((scope.closed, 1), else_=0)),
                   func.sum(case((and_(scope.closed, Case.referred_out.is_(True)), 1), else_=0)))
            .where(scope.where))
    if dims:
        stmt = stmt.group_by(*dims)
    return list((await session.execute(stmt)).all())


async def _service_rows(session: AsyncSession, scope: _Scope, *dims) -> dict:
    stmt = (select(*dims, func.count(CaseService.id)).join(Case, Case.id == CaseService.case_id)
            .where(scope.service_in).group_by(*dims))
    return {tuple(r[:-1]): _n(r[-1]) for r in (await session.execute(stmt)).all()}


CASE_COLUMNS = ["구 분", "사례(건)", "신규(건)", "계속(건)", "실인원(명)", "서비스(건)"]


def _case_table_row(label: str, r, services: int) -> list:
    cases, new = _n(r[0]), _n(r[1])
    return [label, cases, new, cases - new, _n(r[2]), services]


async def compute(session: AsyncSession, period: Period, sections: Iterable[Section] = ()) -> Stats:
    scope = _Scope(period)
    lo, hi = scope.lo, scope.hi

    # Totals over the cases in the period (one row) and the people served.
    [total] = await _case_rows(session, scope)
    svc_total = (await session.execute(
        select(func.count(CaseService.id), func.sum(CaseService.minutes), func.count(distinct(Case.person_id)))
        .join(Case, Case.id == CaseService.case_id).where(scope.service_in))).one()

    # 구조 지원 and the eight service kinds: count, people, minutes per kind in one pass.
    kinds = {r[0]: r[1:] for r in (await session.execute(
        select(CaseService.kind, func.count(CaseService.id), func.count(distinct(Case.person_id)),
               func.sum(CaseService.minutes))
        .join(Case, Case.id == CaseService.case_id).where(scope.service_in).group_by(CaseService.kind))).all()}
    other = tuple(k for k in workflow.SERVICE_KINDS if k not in REPORT_KINDS)
    other_people = _n(await session.scalar(
        select(func.count(distinct(Case.person_id))).select_from(CaseService).join(Case, Case.id == CaseService.case_id)
        .where(scope.service_in, CaseService.kind.in_(other))))

    def kind_n(k: str, i: int) -> int:
        return _n(kinds.get(k, (0, 0, 0))[i])

    report_counts = [kind_n(k, 0) for k in REPORT_KINDS] + [sum(kind_n(k, 0) for k in other)]
    report_people = [kind_n(k, 1) for k in REPORT_KINDS] + [other_people]
    services_table = Table(
        "services", "구조 지원", ["구 분", "총 계(건)", *REPORT_COLUMNS],
        [["구조 지원(건)", _n(svc_total[0]), *report_counts], ["실인원(명)", _n(svc_total[2]), *report_people]],
        "기관연계등 = 기관연계 + 자활지원 + 물적지원 + 집단프로그램. 실인원은 각 지원을 받은 사람을 한 번씩 셉니다.")
    kinds_table = Table(
        "service_kinds", "서비스 유형별", ["구 분", "총 계", *workflow.SERVICE_KINDS.values()],
        [["건수(건)", _n(svc_total[0]), *(kind_n(k, 0) for k in workflow.SERVICE_KINDS)],
         ["실인원(명)", _n(svc_total[2]), *(kind_n(k, 1) for k in workflow.SERVICE_KINDS)],
         ["시간(분)", _n(svc_total[1]), *(kind_n(k, 2) for k in workflow.SERVICE_KINDS)]])

    # By route (and channel for online cases).
    # The channel splits online cases only (a stray channel on a phone case must not split its row).
    online_channel = case((Case.route == "online", Case.channel), else_=None).label("ch")
    merged = {(r[0], r[1]): r[2:] for r in await _case_rows(session, scope, Case.route, online_channel)}
    route_svc = {k: n for k, n in (await _service_rows(session, scope, Case.route, online_channel)).items()}
    keys = set(merged) | set(route_svc) | {(r, None) for r in workflow.ROUTES if r != "online"}
    keys = sorted(keys, key=lambda k: (list(workflow.ROUTES).index(k[0]) if k[0] in workflow.ROUTES else 99,
                                       list(CHANNELS).index(k[1]) if k[1] in CHANNELS else 99, k[1] or ""))
    routes_table = Table("routes", "경로·채널별", CASE_COLUMNS,
                         [_case_table_row(route_label(*k), merged.get(k, [0, 0, 0]), route_svc.get(k, 0))
                          for k in keys] + [_case_table_row(TOTAL, total, _n(svc_total[0]))],
                         "사례가 들어온 경로(온라인은 채널별). 합계의 실인원은 한 사람을 한 번만 셉니다.")

    # By support level (set when the plan is made; 미정 before that).
    levels = {r[0]: r[1:] for r in await _case_rows(session, scope, Case.support_level)}
    level_svc = await _service_rows(session, scope, Case.support_level)
    level_rows = [_case_table_row(label, levels.get(code, [0, 0, 0]), level_svc.get((code,), 0))
                  for code, label in workflow.SUPPORT_LEVELS.items()]
    level_rows.append(_case_table_row(NO_LEVEL, levels.get(None, [0, 0, 0]), level_svc.get((None,), 0)))
    level_rows.append(_case_table_row(TOTAL, total, _n(svc_total[0])))
    levels_table = Table("levels", "지원 수준별", CASE_COLUMNS, level_rows)

    # New vs continuing, with closures in the period.
    is_new = case((scope.new, 1), else_=0).label("is_new")
    by_new = {r[0]: r[1:] for r in await _case_rows(session, scope, is_new)}
    new_svc = await _service_rows(session, scope, is_new)
    cases_rows = []
    for flag, label in ((1, "신규"), (0, "계속")):
        r = by_new.get(flag, [0, 0, 0, 0, 0])
        cases_rows.append([label, _n(r[0]), _n(r[2]), new_svc.get((flag,), 0), _n(r[3]), _n(r[4])])
    cases_rows.append([TOTAL, _n(total[0]), _n(total[2]), _n(svc_total[0]), _n(total[3]), _n(total[4])])
    cases_table = Table("cases", "사례 현황",
                        ["구 분", "사례(건)", "실인원(명)", "서비스(건)", "종결(건)", "타기관 의뢰 종결(건)"],
                        cases_rows, "신규 = 기간 중 접수, 계속 = 기간 전에 접수되어 기간 중에도 진행된 사례.")

    # 사후관리: due in the period (not cancelled), done in the period, cancelled — by 3 and 6 months.
    due = and_(FollowUp.due_on >= lo, FollowUp.due_on < hi)
    done = and_(FollowUp.done_at >= lo, FollowUp.done_at < hi)
    fu = {r[0]: r[1:] for r in (await session.execute(
        select(FollowUp.months,
               func.sum(case((and_(due, FollowUp.cancelled.is_(False)), 1), else_=0)),
               func.sum(case((done, 1), else_=0)),
               func.sum(case((and_(due, FollowUp.cancelled.is_(False), FollowUp.done_at.is_(None)), 1), else_=0)),
               func.sum(case((and_(due, FollowUp.cancelled.is_(True)), 1), else_=0)))
        .where(or_(due, done)).group_by(FollowUp.months))).all()}
    months = list(workflow.FOLLOW_UP_MONTHS)
    fu_rows = []
    for i, label in enumerate(("도래(건)", "완료(건)", "미완료(건)", "취소(건)")):
        per = [_n(fu.get(m, [0, 0, 0, 0])[i]) for m in months]
        fu_rows.append([label, sum(per), *per])
    followups_table = Table("followups", "사후관리", ["구 분", "합계", *(f"{m}개월" for m in months)], fu_rows,
                            "도래 = 예정일이 기간 중(취소 제외), 완료 = 기간 중 완료, "
                            "미완료 = 기간 중 도래했으나 아직 완료되지 않음.")

    # Conversations, handoffs and counsellor replies by channel; first-reply times.
    conv_in = and_(Conversation.created_at >= lo, Conversation.created_at < hi)
    ev_in = and_(ConversationEvent.created_at >= lo, ConversationEvent.created_at < hi)
    convs = {r[0]: _n(r[1]) for r in (await session.execute(
        select(Conversation.channel, func.count(Conversation.id)).where(conv_in)
        .group_by(Conversation.channel))).all()}
    handoff = _handoff()
    hand = {r[0]: r[1:] for r in (await session.execute(
        select(Conversation.channel, func.sum(case((handoff, 1), else_=0)),
               func.count(distinct(case((handoff, ConversationEvent.conversation_id)))),
               func.sum(case((ConversationEvent.kind == "handoff_channel", 1), else_=0)))
        .join(Conversation, Conversation.id == ConversationEvent.conversation_id)
        .where(ev_in, ConversationEvent.kind.in_(("state", "handoff_channel")))
        .group_by(Conversation.channel))).all()}
    replies = {r[0]: _n(r[1]) for r in (await session.execute(
        select(Message.channel, func.count(Message.id))
        .where(Message.author == "counsellor", Message.created_at >= lo, Message.created_at < hi)
        .group_by(Message.channel))).all()}
    waits = await first_reply_seconds(session, period)
    channels = sorted(set(convs) | set(hand) | set(replies) | set(waits),
                      key=lambda c: (list(CHANNELS).index(c) if c in CHANNELS else 99, c))
    all_waits = [s for ws in waits.values() for s in ws]

    def median_minutes(values: list[float]) -> float | None:
        return round(statistics.median(values) / 60, 1) if values else None

    conv_rows = []
    for c in channels:
        h = hand.get(c, (0, 0, 0))
        conv_rows.append([channel_label(c), convs.get(c, 0), _n(h[0]), _n(h[1]), _n(h[2]), replies.get(c, 0),
                          len(waits.get(c, [])), median_minutes(waits.get(c, []))])
    tot = [sum(r[i] for r in conv_rows) for i in range(1, 7)]
    conv_rows.append([TOTAL, *tot, median_minutes(all_waits)])
    conversations_table = Table(
        "conversations", "대화 채널별",
        ["구 분", "대화(건)", "상담원 연결 요청(건)", "연결 요청 대화(건)", "카카오 1:1 안내(건)", "상담원 응답(건)",
         "응답받은 요청(건)", "첫 응답 중앙값(분)"], conv_rows,
        "대화 = 기간 중 시작된 대화. 첫 응답 = 연결 요청부터 상담원의 첫 메시지까지(다음 요청 전까지).")

    # By hour of day (Korean time): conversations started and handoffs requested.
    conv_hour = kst_hour(session, Conversation.created_at).label("h")
    by_hour_conv = {_n(r[0]): _n(r[1]) for r in (await session.execute(
        select(conv_hour, func.count(Conversation.id)).where(conv_in).group_by(conv_hour))).all()}
    ev_hour = kst_hour(session, ConversationEvent.created_at).label("h")
    by_hour_hand = {_n(r[0]): _n(r[1]) for r in (await session.execute(
        select(ev_hour, func.count(ConversationEvent.id)).where(ev_in, handoff).group_by(ev_hour))).all()}
    hour_rows = [[f"{h:02d}시", by_hour_conv.get(h, 0), by_hour_hand.get(h, 0)] for h in range(24)]
    hour_rows.append([TOTAL, sum(by_hour_conv.values()), sum(by_hour_hand.values())])
    hours_table = Table("hours", "시간대별", ["시간대(KST)", "대화(건)", "상담원 연결 요청(건)"], hour_rows)

    summary = {
        "people": _n(total[2]), "services": _n(svc_total[0]), "service_minutes": _n(svc_total[1]),
        "service_people": _n(svc_total[2]), "cases": _n(total[0]), "cases_new": _n(total[1]),
        "cases_continuing": _n(total[0]) - _n(total[1]), "cases_closed": _n(total[3]),
        "followups_done": fu_rows[1][1], "conversations": tot[0], "handoffs": tot[1],
        "counsellor_replies": tot[4], "median_first_reply_minutes": median_minutes(all_waits),
    }
    summary_table = Table("summary", "총괄", ["구 분", "값", "단위"], [
        ["실인원", summary["people"], "명"], ["서비스 건수", summary["services"], "건"],
        ["서비스 시간", summary["service_minutes"], "분"], ["사례", summary["cases"], "건"],
        ["신규 사례", summary["cases_new"], "건"], ["계속 사례", summary["cases_continuing"], "건"],
        ["종결", summary["cases_closed"], "건"], ["사후관리 완료", summary["followups_done"], "건"],
        ["대화", summary["conversations"], "건"], ["상담원 연결 요청", summary["handoffs"], "건"],
        ["상담원 응답", summary["counsellor_replies"], "건"],
        ["첫 응답 중앙값", summary["median_first_reply_minutes"], "분"]])
    extra = [t for section in sections for t in await section(session, period)]
    return Stats(period, summary, [summary_table, services_table, kinds_table, routes_table, levels_table,
                                   cases_table, followups_table, conversations_table, hours_table, *extra])


async def first_reply_seconds(session: AsyncSession, period: Period) -> dict[str, list[float]]:
    """Per channel, the seconds from each handoff in the period to its first counsellor reply."""
    later = ConversationEvent.__table__.alias("later")
    handoffs = (select(ConversationEvent.id, ConversationEvent.conversation_id, ConversationEvent.created_at,
                       select(func.min(later.c.created_at)).where(
                           later.c.conversation_id == ConversationEvent.conversation_id,
                           later.c.id > ConversationEvent.id, later.c.kind == "state",
                           later.c.detail["new"].as_string() == "waiting").scalar_subquery().label("next_at"))
                .where(_handoff(), ConversationEvent.created_at >= period.lo, ConversationEvent.created_at < period.hi)
                .cte("handoffs"))
    # A join and GROUP BY rather than a correlated subquery: each handoff's first reply is found once,
    # and handoffs nobody answered drop out of the inner join.
    replied = func.min(Message.created_at)
    answered = (select(Conversation.channel, seconds_between(session, replied, handoffs.c.created_at))
                .select_from(handoffs)
                .join(Conversation, Conversation.id == handoffs.c.conversation_id)
                .join(Message, and_(Message.conversation_id == handoffs.c.conversation_id,
                                    Message.author == "counsellor", Message.created_at >= handoffs.c.created_at,
                                    or_(handoffs.c.next_at.is_(None), Message.created_at < handoffs.c.next_at)))
                .group_by(handoffs.c.id, handoffs.c.created_at, Conversation.channel))
    out: dict[str, list[float]] = {}
    for channel, seconds in (await session.execute(answered)).all():
        out.setdefault(channel, []).append(max(0.0, float(seconds)))
    return out
