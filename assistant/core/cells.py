"""Spreadsheet cells from text we do not control (account names and URLs from scraped posts, labels):
a spreadsheet program runs a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return as
a formula (`=HYPERLINK(...)` on a staff computer). Every CSV and XLSX export passes its cells through
here. OWASP's CSV-injection advice: prefix such a cell with a single quote so it is shown as text."""
from __future__ import annotations

import re
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Control characters XML 1.0 (so XLSX) cannot hold: one in an account name would make the whole export
# fail. Shown as U+FFFD instead; a leading NUL (ASVS 1.2.10) is then no longer first either.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def neutralise(value: Any) -> Any:
    """Text that a spreadsheet would run, prefixed with `'`, control characters replaced; anything else
    (numbers too) unchanged."""
    if not isinstance(value, str):
        return value
    value = CONTROL.sub("\ufffd", value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def as_text(cell: Any) -> Any:
    """An openpyxl cell holding text is stored as a string, never parsed as a formula (duck-typed, so
    this module needs no spreadsheet library)."""
    if isinstance(cell.value, str):
        cell.data_type = "s"
    return cell
