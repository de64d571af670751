"""Spreadsheet cells from text we do not control (account names and URLs from scraped posts, labels):
a spreadsheet program runs a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return as
a formula (`=HYPERLINK(...)` on a staff computer). Every CSV and XLSX export passes its cells through
here. OWASP's CSV-injection advice: prefix such a cell with a single quote so it is shown as text."""
from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Text that a spreadsheet would run, prefixed with `'`; anything else (numbers too) unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def as_text(cell: Any) -> Any:
    """An openpyxl cell holding text is stored as a string, never parsed as a formula (duck-typed, so
    this module needs no spreadsheet library)."""
    if isinstance(cell.value, str):
        cell.data_type = "s"
    return cell
