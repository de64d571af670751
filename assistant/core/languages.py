"""The languages dasi answers in (data only: the detector is assistant.language, the texts assistant.safety.texts).

Korean is the source of every text; the others are translations of it. A person writing a language not
served here is answered in English with the Korean emergency text beside it (FALLBACK).
"""
from __future__ import annotations

KOREAN = "ko"
FALLBACK = "en"  # the reply language for a language we do not serve
# Code → the name the person sees in the web chat's language choice (in that language).
SERVED: dict[str, str] = {
    "ko": "한국어",
    "en": "English",
    "vi": "Tiếng Việt",
    "th": "ไทย",
    "zh": "中文",
    "ru": "Русский",
    "tl": "Tagalog",
}
# Code → the name a counsellor sees in the console (Korean).
KOREAN_NAMES: dict[str, str] = {
    "ko": "한국어", "en": "영어", "vi": "베트남어", "th": "태국어", "zh": "중국어", "ru": "러시아어",
    "tl": "타갈로그어", "ja": "일본어", "id": "인도네시아어", "ms": "말레이어", "uk": "우크라이나어",
    "mn": "몽골어", "es": "스페인어",
}
# Codes a conversation may carry: the served ones and the look-alikes the detector also knows.
KNOWN: tuple[str, ...] = tuple(KOREAN_NAMES)


def reply_language(code: str | None) -> str:
    """The language replies are written in: the code itself when served, English otherwise."""
    if not code:
        return KOREAN
    return code if code in SERVED else FALLBACK
