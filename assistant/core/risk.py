"""How urgent a conversation is: one ordered scale for the assessor, the queue and the console.

none → low → medium → high → critical. High and critical are alarms: the person gets the emergency
numbers at once and the conversation goes to the top of the counsellor queue.
"""
from __future__ import annotations

import enum


class Risk(str, enum.Enum):
    none = "none"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


# Lowest first: the queue puts the last first.
RISK_ORDER: tuple[str, ...] = tuple(r.value for r in Risk)
ALARM_LEVELS: tuple[str, ...] = (Risk.high.value, Risk.critical.value)


def risk_rank(risk: str) -> int:
    return RISK_ORDER.index(risk)


def risk_max(a: str, b: str) -> str:
    return a if risk_rank(a) >= risk_rank(b) else b


def is_alarm(risk: str) -> bool:
    return risk in ALARM_LEVELS
