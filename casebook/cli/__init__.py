"""`dasi users|stats|keys|retention|people|risk`: the casebook's commands."""
from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    from casebook.cli import protection, risk, stats, users

    users.register(sub)
    stats.register(sub)
    protection.register(sub)
    risk.register(sub)
