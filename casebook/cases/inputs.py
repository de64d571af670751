"""Checks of what the console sends: types, lengths and allowed fields, before anything is stored."""
from __future__ import annotations

import json
import re
from typing import Any

from casebook.cases.dates import parse_when
from casebook.cases.errors import CaseError, bad_input

MAX_DOCUMENT = 10 * 1024 * 1024


MAX_TEXT = 10_000  # one note, one incident field


MAX_SHORT = 200  # names, partners, organisations


MAX_DATA = 20_000  # a move's data, as JSON


MAX_MINUTES = 24 * 60


MAX_LIMIT = 200


NUMBER = re.compile(r"^(\d{4})-(\d{4,6})$")


CONTENT_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]*/[A-Za-z0-9][A-Za-z0-9.+-]*$")


# What each entry kind's body may hold; the first field is required.
ENTRY_FIELDS: dict[str, tuple[str, ...]] = {
    "note": ("text",),
    "referral": ("to", "reason"),
    "incident": ("what", "when", "where", "perpetrators"),
}


CONTACT_FIELDS = ("phone", "email", "other")


OPEN_FIELDS = frozenset({"person_id", "person", "conversation_id", "route", "channel", "referred_by", "opened_at"})


def text_input(value: Any, field: str, max_len: int = MAX_SHORT, required: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            raise bad_input(field, "required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise bad_input(field, "not_text")
    if len(value) > max_len:
        raise CaseError(413, "text_too_long", "text_too_long", field=field, max_len=max_len)
    return value.strip()


def int_input(value: Any, field: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise bad_input(field, "not_int", lo=lo, hi=hi)
    return value


def row_id(value: Any) -> int | None:
    """A row id from a client, or None: ints in the database's range only (no bools, no 10**30)."""
    ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value < 2**31
    return value if ok else None


def bool_input(value: Any, field: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_input(field, "not_bool")
    return value


def check_move_data(data: Any) -> dict:
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise bad_input("data", "not_object")
    if len(json.dumps(data, ensure_ascii=False)) > MAX_DATA:
        raise CaseError(413, "data_too_large", "data_too_large", max_len=MAX_DATA)
    # Types only: an empty value is left to workflow.check, which names it as missing.
    given = {k: v for k, v in data.items() if v not in (None, "", [])}
    for name in ("eligible", "referred_out"):
        if name in given and not isinstance(given[name], bool):
            raise bad_input(name, "not_bool")
    if "consent_date" in given:
        parse_when(given["consent_date"], "consent_date")
    return data


def entry_body(kind: Any, body: Any) -> dict:
    if not isinstance(kind, str) or kind not in ENTRY_FIELDS:
        raise bad_input("kind", "one_of", choices=", ".join(ENTRY_FIELDS))
    if not isinstance(body, dict):
        raise bad_input("body", "not_object")
    fields = ENTRY_FIELDS[kind]
    unknown = set(body) - set(fields)
    if unknown:
        raise CaseError(400, "invalid_body", "unknown_fields", field=kind, names=", ".join(sorted(unknown)))
    clean: dict[str, Any] = {}
    for i, name in enumerate(fields):
        value = body.get(name)
        if name == "perpetrators" and isinstance(value, list):
            clean[name] = [text_input(v, name, MAX_SHORT, required=True) for v in value[:50]]
        elif (text_ := text_input(value, name, MAX_TEXT, required=i == 0)) is not None:
            clean[name] = text_
    return clean


def clean_filename(name: Any) -> str:
    name = name if isinstance(name, str) else ""
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".")
    return name[:200] or "문서"
