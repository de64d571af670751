"""Small helpers the benchmarks share: percentiles and hand-parsed options (`make bench` passes one argv
to every section, so each reads only its own flags)."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100), interpolated between the nearest ranks; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def option(argv: Sequence[str], name: str, default: T, cast: Callable[[str], T]) -> T:
    """The value after `name` in argv (`--rate 40`), else the default."""
    if name in argv and argv.index(name) + 1 < len(argv):
        return cast(argv[argv.index(name) + 1])
    return default
