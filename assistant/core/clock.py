"""Time: UTC for storage, Korean time (KST) for people, and the centre's opening hours."""
from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
KST = ZoneInfo("Asia/Seoul")
def utcnow() -> datetime:
    return datetime.now(UTC)


_SPEC = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)-(mon|tue|wed|thu|fri|sat|sun) (\d\d):(\d\d)-(\d\d):(\d\d)$")


class Hours:
    """e.g. "mon-fri 09:00-18:00" in Korean time. Public holidays are not known here."""

    def __init__(self, spec: str = "mon-fri 09:00-18:00") -> None:
        m = _SPEC.match(spec.strip())
        if not m:
            raise ValueError(f"DASI_CENTRE_HOURS {spec!r} must look like 'mon-fri 09:00-18:00'")
        first, last = DAYS.index(m.group(1)), DAYS.index(m.group(2))
        self.days = {d % 7 for d in range(first, last + (7 if last < first else 0) + 1)}
        self.start, self.end = time(int(m.group(3)), int(m.group(4))), time(int(m.group(5)), int(m.group(6)))

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(KST)
        return local.weekday() in self.days and self.start <= local.time() < self.end

    def next_opening(self, now: datetime) -> datetime:
        local = now.astimezone(KST)
        for add in range(8):
            day = (local + timedelta(days=add)).date()
            opening = datetime.combine(day, self.start, tzinfo=KST)
            if day.weekday() in self.days and opening > local:
                return opening
        raise ValueError("no opening day")


def korean_when(dt: datetime, now: datetime) -> str:
    local, today = dt.astimezone(KST), now.astimezone(KST).date()
    day = "오늘" if local.date() == today else "내일" if local.date() == today + timedelta(days=1) else \
        f"{local.month}월 {local.day}일({'월화수목금토일'[local.weekday()]})"
    return f"{day} {'오전' if local.hour < 12 else '오후'} {local.hour if local.hour <= 12 else local.hour - 12}시"
