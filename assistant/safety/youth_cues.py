"""Does what a person said about their age mean they are under 19 (a minor under 아청법)?"""
from __future__ import annotations

import re
from datetime import date, datetime

from assistant.core.clock import KST

_NATIVE = {"열": 10, "열한": 11, "열하나": 11, "열두": 12, "열둘": 12, "열세": 13, "열셋": 13, "열네": 14, "열넷": 14,
           "열다섯": 15, "열여섯": 16, "열일곱": 17, "열여덟": 18, "열아홉": 19, "스물": 20, "스무": 20}
_AGE = re.compile(r"(?:만\s*)?(\d{1,2})\s*(?:살|세)")
_BORN = re.compile(r"(\d{2}|\d{4})\s*년\s*생")
_MINOR_WORDS = ("미성년", "미자", "청소년", "학생", "중딩", "고딩", "초딩", "중학", "고등학", "초등학")


def age_of(text: str, today: date | None = None) -> int | None:
    """An age in years if the text states one ("17살", "열여섯", "2009년생"), else None."""
    today = today or datetime.now(KST).date()
    t = text.replace(" ", "")
    if m := _AGE.search(t):
        return int(m.group(1))
    if m := _BORN.search(t):
        year = int(m.group(1))
        year = year if year > 1900 else (2000 + year if year <= today.year % 100 else 1900 + year)
        return today.year - year
    for word in sorted(_NATIVE, key=len, reverse=True):
        if word + "살" in t or t == word:  # "열여섯" alone is an age entity Rasa extracted
            return _NATIVE[word]
    return None


def is_minor(text: str, today: date | None = None) -> bool:
    """True for a stated age under 19, a school year below university, or words meaning minor."""
    age = age_of(text, today)
    if age is not None:
        return age < 19
    t = text.replace(" ", "")
    if re.search(r"(중|고)[1-3]", t) or re.search(r"초[1-6]", t):
        return True
    return any(w in t for w in _MINOR_WORDS) and "대학생" not in t
