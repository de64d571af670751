"""Dates in case records: stored in UTC, entered and shown as Korean (KST) days."""
from __future__ import annotations

from calendar import monthrange
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from assistant.core.clock import KST, utcnow
from casebook.cases.errors import bad_input
from casebook.models import (
    Case,
)

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


def noon_kst(day: date) -> datetime:
    return datetime.combine(day, time(12), KST).astimezone(UTC)


def _on_day(day: date, now: datetime) -> datetime:
    """A bare date means that day in Korea, at noon; today's date, though, never lies ahead of now."""
    return min(noon_kst(day), now) if day == kst_date(now) else noon_kst(day)


def parse_when(value: Any, field: str = "on") -> datetime:
    """An ISO date ("2025-03-01": that day in Korea) or datetime (naive = Korean time), as UTC.
    Refuses anything else, dates before 2000 and dates more than a day ahead."""
    now = utcnow()
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=KST)
    elif isinstance(value, date):
        moment = _on_day(value, now)
    elif isinstance(value, str) and 10 <= len(value.strip()) <= 40:
        raw = value.strip()
        try:
            if len(raw) == 10:
                moment = _on_day(date.fromisoformat(raw), now)
            else:
                parsed = datetime.fromisoformat(raw)
                moment = parsed if parsed.tzinfo else parsed.replace(tzinfo=KST)
        except ValueError:
            raise bad_input(field, "date_unreadable") from None
    else:
        raise bad_input(field, "date_type")
    moment = moment.astimezone(UTC)
    if moment < EARLIEST or moment > now + timedelta(days=1):
        raise bad_input(field, "date_range")
    return moment


def kst_date(moment: datetime) -> date:
    return moment.astimezone(KST).date()


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or that month's last day (31 Aug + 3 months = 30 Nov)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def due_cutoff(now: datetime | None = None) -> datetime:
    """Follow-ups due on or before today (in Korea) are due: due_on < the start of tomorrow, KST."""
    tomorrow = kst_date(now or utcnow()) + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), KST).astimezone(UTC)


def not_before_opening(case: Case, moment: datetime, field: str) -> None:
    if kst_date(moment) < kst_date(case.opened_at):
        raise bad_input(field, "before_opening", day=kst_date(case.opened_at).isoformat())
