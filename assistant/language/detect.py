"""The language of one message, read with the conversation's language so far.

Short chat messages fool any statistical detector, so scripts decide first and lingua only where the
script leaves a choice (Latin: English, Vietnamese, Tagalog and look-alikes; Cyrillic: Russian or not):
- Hangul making up at least half the letters → Korean. Less than half: the rest decides ("help me 제발"
  is English), unless there is too little of it.
- Thai script → Thai; Han without kana → Chinese; kana → Japanese (not served: English replies).
- Cyrillic → Russian unless lingua is very sure of Ukrainian or Mongolian.
- Latin: marker words first (Vietnamese typed without diacritics, Tagalog), then lingua when it is clearly
  ahead; fewer than MIN_WORDS words, emoji, numbers → the conversation keeps its language (None when it
  has none yet; the caller starts in Korean).
The detector knows only the served languages and a few they are confused with, which keeps it fast and
keeps "ok po salamat" from becoming Yoruba.
"""
from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

from assistant.core.languages import KOREAN

MIN_WORDS = 3  # fewer Latin/Cyrillic words than this: too little to tell English from Tagalog
HANGUL_SHARE = 0.5  # at least this share of the letters in Hangul: Korean
MIN_CONFIDENCE = 0.3  # lingua's top language: at least this confidence among the candidates …
MIN_MARGIN = 0.08  # … and this far ahead of the second (English and Tagalog share many chat words)
CYRILLIC_OTHER = 0.8  # Cyrillic is Russian unless lingua is this sure of Ukrainian or Mongolian (see identify)
# Words that mark a language when people type without its letters' marks (Vietnamese without diacritics,
# "cuu em voi") or mix in English (Taglish): lingua alone reads these as English or Malay. Two different
# marker words making up a good share of the message decide.
MARKERS = {
    "vi": frozenset("em chi oi voi khong toi giup cuu minh bi roi duoc nha lam gi sao cua cho chieu giu "
                    "nguoi tien viec ve".split()),
    "tl": frozenset("po ako ang ng nyo niyo hindi ko kayo namin sila lang naman yung mga sa ba pa na".split()),
}
MARKER_SHARE = 0.25
# Letters only Vietnamese writes (with its tone marks): one is enough, however short the message.
VIETNAMESE_LETTERS = frozenset("ăđơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")

# Only the languages whose script leaves a choice (Korean, Thai, Chinese and Japanese are told by script).
# High-accuracy mode: ~0.1 ms a message, ~220 MB of n-gram models once loaded. Low-accuracy mode (~30 MB)
# measured 78/81 on tests/assistant/test_language_detect.py's samples against 81/81, and the same on the
# multilingual writers' 540 messages (517 vs 516): the scripts and marker words do most of the work, so
# low-accuracy mode is a fair choice on a small machine.
LINGUA: dict[Language, str] = {
    Language.ENGLISH: "en", Language.VIETNAMESE: "vi", Language.TAGALOG: "tl", Language.RUSSIAN: "ru",
    # Look-alikes: without them their speakers would be forced into a served language.
    Language.INDONESIAN: "id", Language.MALAY: "ms", Language.SPANISH: "es", Language.UKRAINIAN: "uk",
    Language.MONGOLIAN: "mn",
}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_URL = re.compile(r"https?://\S+|www\.\S+|\S+@\S+")


@dataclass(frozen=True)
class Identified:
    lang: str | None  # None: too little to tell (keep the conversation's language)
    reason: str  # script:<name> | lingua | short | hangul_share | none (codes only, for the event log)


def _script(ch: str) -> str:
    code = ord(ch)
    if 0xAC00 <= code <= 0xD7A3 or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
        return "hangul"
    if 0x0E00 <= code <= 0x0E7F:
        return "thai"
    if 0x3040 <= code <= 0x30FF:
        return "kana"
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF:
        return "han"
    if 0x0400 <= code <= 0x04FF:
        return "cyrillic"
    if ch.isalpha() and unicodedata.name(ch, "").startswith("LATIN"):
        return "latin"
    return "other" if ch.isalpha() else ""


_BUILDING = threading.Lock()


@lru_cache(maxsize=1)
def _build() -> LanguageDetector:
    return LanguageDetectorBuilder.from_languages(*LINGUA).with_preloaded_language_models().build()


def detector() -> LanguageDetector:
    """Built once per process (the gateway starts it beside its first requests: preload())."""
    with _BUILDING:  # a message arriving while it loads waits for that one, not a second copy
        return _build()


def preload() -> None:
    detector()


def identify(text: str) -> Identified:
    """The language of `text` alone (see the module's rules)."""
    text = _URL.sub(" ", unicodedata.normalize("NFC", text or ""))
    counts: dict[str, int] = {}
    for ch in text:
        s = _script(ch)
        if s:
            counts[s] = counts.get(s, 0) + 1
    letters = sum(counts.values())
    if not letters:
        return Identified(None, "none")
    hangul = counts.get("hangul", 0)
    if hangul / letters >= HANGUL_SHARE:
        return Identified(KOREAN, "script:hangul")
    if hangul:  # mixed: the other language decides, read without the Korean
        text = "".join(" " if _script(ch) == "hangul" else ch for ch in text)
        counts.pop("hangul")
        letters -= hangul
    top = max(counts, key=lambda k: counts[k])
    if top == "thai":
        return Identified("th", "script:thai")
    if top in ("han", "kana"):
        return Identified("ja" if counts.get("kana") else "zh", "script:" + top)
    words = [w.lower() for w in _WORD.findall(text)]
    if top == "cyrillic":
        return _cyrillic(text)
    if any(ch in VIETNAMESE_LETTERS for ch in text.lower()):
        return Identified("vi", "letters:vi")
    for lang, markers in MARKERS.items():
        found = [w for w in words if w in markers]
        if len(set(found)) >= 2 and len(found) / len(words) >= MARKER_SHARE:
            return Identified(lang, "markers")
    if len(words) < MIN_WORDS:
        return Identified(None, "short")
    return _lingua(text)


def _lingua(text: str) -> Identified:
    confidences = detector().compute_language_confidence_values(text)
    if not confidences or confidences[0].value < MIN_CONFIDENCE or (
            len(confidences) > 1 and confidences[0].value - confidences[1].value < MIN_MARGIN):
        return Identified(None, "unsure")
    return Identified(LINGUA[confidences[0].language], "lingua")


def _cyrillic(text: str) -> Identified:
    """Russian, the shared language of most Cyrillic-writing migrants here (one word is enough: the script
    already narrows it); Ukrainian or Mongolian only when lingua is very sure (then English replies)."""
    confidences = detector().compute_language_confidence_values(text)
    top = confidences[0] if confidences else None
    if top is not None and LINGUA[top.language] in ("uk", "mn") and top.value >= CYRILLIC_OTHER:
        return Identified(LINGUA[top.language], "lingua")
    return Identified("ru", "script:cyrillic")


def choose(text: str, current: str | None, chosen: bool = False) -> tuple[str, Identified]:
    """The conversation's language after this message, and what the message itself looked like.

    A language the person chose in the chat stays, unless they write Korean (then the Korean assistant,
    which understands them, answers). Otherwise a message whose language is clear sets it; an unclear one
    keeps the conversation's; a first unclear message starts in Korean (the centre's own language)."""
    found = identify(text)
    if chosen and current:
        return (KOREAN if found.lang == KOREAN else current), found
    return found.lang or current or KOREAN, found
