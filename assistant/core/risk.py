"""How urgent a conversation is: one ordered scale for the screen, the queue and the console."""
from __future__ import annotations

import enum


class Risk(str, enum.Enum):
    none = "none"
    elevated = "elevated"
    high = "high"
    critical = "critical"


# Lowest first: the queue puts the last first.
RISK_ORDER: tuple[str, ...] = tuple(r.value for r in Risk)


def risk_rank(risk: str) -> int:
    return RISK_ORDER.index(risk)


def risk_max(a: str, b: str) -> str:
    return a if risk_rank(a) >= risk_rank(b) else b
