"""Citizen reports by type and by outcome for the centre's statistics (/console/stats, `dasi stats`):
reports received in the period (each receipt counts, merged duplicates too), and what became of them.
Only clear columns are read (type, times, the review's statuses): nothing is decrypted."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from casebook.stats.queries import TOTAL, Period, Table
from detection.citizen.service import KINDS
from detection.citizen.store import OUTCOMES, outcome_column, with_outcome
from detection.citizen.tables import CitizenItem, CitizenReport

OUTCOME_COLUMNS = {"received": "검토 대기", "reviewed": "검토 완료", "dismissed": "해당없음", "reported": "신고",
                   "deleted": "삭제됨", "not_deleted": "미삭제"}
COLUMNS = ["구 분", "제보(건)", *(f"{OUTCOME_COLUMNS[o]}(건)" for o in OUTCOMES), "채팅으로(건)", "미성년자 관련(건)"]


async def tables(session: AsyncSession, period: Period) -> list[Table]:
    """A casebook statistics section (casebook.stats.queries.Section): one table."""
    outcome = outcome_column().label("outcome")
    stmt = with_outcome(select(CitizenReport.kind, outcome, CitizenReport.channel, CitizenReport.minor,
                               func.count(CitizenReport.id))
                        .join(CitizenItem, CitizenItem.id == CitizenReport.item_id)
                        .where(CitizenReport.created_at >= period.lo, CitizenReport.created_at < period.hi)
                        .group_by(CitizenReport.kind, outcome, CitizenReport.channel, CitizenReport.minor))
    counts: dict[str, list[int]] = {k: [0] * (len(OUTCOMES) + 3) for k in KINDS}
    for kind, result, channel, minor, n in (await session.execute(stmt)).all():
        row = counts.setdefault(kind, [0] * (len(OUTCOMES) + 3))
        row[0] += n
        row[1 + OUTCOMES.index(result)] += n
        row[-2] += n if channel == "chat" else 0
        row[-1] += n if minor else 0
    rows = [[KINDS.get(k, k), *v] for k, v in counts.items()]
    rows.append([TOTAL, *(sum(r[i] for r in rows) for i in range(1, len(COLUMNS)))])
    return [Table("citizen_reports", "시민제보", COLUMNS, rows,
                 "접수된 제보마다 한 건(같은 링크·내용의 중복 제보도 각각 셉니다). 결과는 검토 화면의 결정과 신고·삭제 "
                  "확인에서 옵니다. 해당없음 = 검토했지만 신고 대상이 아님.")]
