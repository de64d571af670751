"""Contacts in a post (phone, Kakao id, open chat link, Telegram, LINE) and the posting account, each
normalised so that one contact written differently is one value: "010-1234-5678", "010 1234 5678",
"01012345678" and "공일공 일이삼사 오육칠팔" are all 01012345678. Values are compared by keyed hash
(assistant.store.crypto.blind_index), never stored in clear."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

# Digits written as Sino-Korean syllables (공/영 = 0), as ads do to slip past filters.
HANGUL_DIGITS = {"공": "0", "영": "0", "빵": "0", "일": "1", "이": "2", "삼": "3", "사": "4", "오": "5",
                 "육": "6", "륙": "6", "칠": "7", "팔": "8", "구": "9"}
_DIGIT = "[0-9" + "".join(HANGUL_DIGITS) + "]"
_SEP = r"[\s\-.·_/,~]*"
# 10–11 digits that start like a Korean mobile, 050x (safe numbers) or 070, separators allowed anywhere.
PHONE = re.compile(rf"(?<![0-9가-힣]){_DIGIT}(?:{_SEP}{_DIGIT}){{9,11}}(?![0-9])")
PHONE_OK = re.compile(r"^(?:01[016789]\d{7,8}|050\d{8,9}|070\d{8})$")
HANDLES = {
    "openchat": [re.compile(r"open\.kakao\.com/o/([a-z0-9]+)")],
    "kakao": [re.compile(r"(?:카톡|카카오톡|ㅋㅌ|톡)\s*(?:id|아이디)?\s*[:：]?\s*@?([a-z][a-z0-9_.\-]{2,20})")],
    "telegram": [re.compile(r"(?:t\.me|telegram\.me)/([a-z0-9_]{3,32})"),
                 re.compile(r"(?:텔레그램|텔레|텔|tg)\s*(?:id|아이디)?\s*[:：]?\s*@?([a-z][a-z0-9_]{2,31})")],
    "line": [re.compile(r"line\.me/(?:ti/p/|r/)?~?@?([a-z0-9_.\-]{3,40})"),
             re.compile(r"(?:라인|line)\s*(?:id|아이디)\s*[:：]?\s*@?([a-z][a-z0-9_.\-]{2,20})")],
}
CONTACT_KINDS = ("phone", *HANDLES)


def _light(text: str) -> str:
    """NFKC (full-width and circled digits become digits), no zero-width characters, lower case."""
    text = unicodedata.normalize("NFKC", text or "")
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf").lower()


def phone(value: str) -> str | None:
    """The number in `value`, or None. A run may swallow a digit-like syllable after the number
    ("5678 사진" reads 사 as 4), so the longest valid start wins."""
    digits = "".join(HANGUL_DIGITS.get(ch, ch) for ch in value if ch.isdigit() or ch in HANGUL_DIGITS)
    return next((digits[:n] for n in (12, 11, 10) if PHONE_OK.match(digits[:n])), None)


def handle(value: str) -> str:
    return _light(value).strip().lstrip("@").rstrip(".,")


def account(platform: str, name: str | None) -> str | None:
    """The posting account, per platform: X handles and ids are case-insensitive."""
    value = handle(name or "")
    return f"{platform}:{value}" if value else None


def extract(text: str, found: Iterable[dict[str, Any]] = ()) -> list[tuple[str, str]]:
    """(kind, normalised value) for every contact in `text`, plus those the classifier found (`found`,
    the verdict's indicators.contacts), without repeats, in order."""
    light = _light(text)
    out: list[tuple[str, str]] = []

    def add(kind: str, value: str | None) -> None:
        if value and (kind, value) not in out:
            out.append((kind, value))

    for m in PHONE.finditer(light):
        add("phone", phone(m.group(0)))
    for kind, patterns in HANDLES.items():
        for rx in patterns:
            for m in rx.finditer(light):
                add(kind, handle(m.group(1)))
    for item in found:
        kind, value = str(item.get("kind", "")), str(item.get("value", ""))
        if kind == "phone":
            add("phone", phone(_light(value)))
        elif kind in HANDLES:
            v = handle(value)
            for rx in HANDLES[kind]:  # the classifier's value may still carry the link's prefix
                if hit := rx.search(v):
                    v = handle(hit.group(1))
                    break
            add(kind, v)
    return out
