"""Deterministic safety screen: the first thing every inbound message meets.

It depends on nothing that can be down (no Rasa, index, LLM or database): a YAML lexicon and
string matching over a normalised form of the message that undoes the usual disguises: inserted
spaces and punctuation, loose jamo ("ㅈㅜㄱㄱㅗ"), initial consonants ("ㅅㄹㅈㅅㅇ"), repeated
letters, fullwidth/circled look-alikes, and one-letter typos on longer phrases.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml
from rapidfuzz import fuzz

from assistant.core.hangul import choseong, compose, decompose, is_syllable, nfkc
from assistant.core.risk import RISK_ORDER, risk_max

LEXICON_PATH = Path(__file__).with_name("lexicon.yml")
# Categories in the order their replies are shown when several fire.
CATEGORY_ORDER = ("danger", "self_harm", "medical", "exploitation")

_KEEP = re.compile(r"[^가-힣ㄱ-ㅣa-z0-9]+")
_REPEAT = re.compile(r"(.)\1+")
_CONSONANT_RUN = re.compile(r"[ㄱ-ㅎ]{3,}")
_LAUGHTER = re.compile(r"ㅋ{2,}|ㅎ{2,}|(?<![a-z])lol(?![a-z])", re.IGNORECASE)

# Fuzzy matching only for phrases long enough that one wrong letter cannot make a new word.
# It must also keep the phrase's initial consonants, so a wrong vowel or final ("살려즈세요",
# "죽고십어") still matches but a different word ("티가많이" for "피가많이") does not.
FUZZY_MIN_JAMO = 10
FUZZY_CUTOFF = 89.0


def compact(text: str) -> str:
    """The matching form: NFKC, loose jamo composed, lower case, only letters and digits,
    repeated characters folded ("살 려 주 세 요ㅠㅠ" → "살려주세요ㅠ")."""
    text = "".join(ch for ch in nfkc(text) if unicodedata.category(ch) != "Cf")
    text = compose(text).lower()
    # Compose again once spaces are gone: "ㄱ ㅏ ㄷ ㅕ" is one word typed a letter at a time.
    return _REPEAT.sub(r"\1", compose(_KEEP.sub("", text)))


@dataclass(frozen=True)
class Phrase:
    category: str
    text: str  # compact form
    jamo: str
    initials: str
    floor: bool = False  # unmistakable: the category is at least high whatever the model says


@dataclass(frozen=True)
class Hit:
    category: str
    phrase: str
    method: str  # exact | initials | fuzzy
    floor: bool = False


@dataclass
class ScreenResult:
    risk: str = "none"
    hits: list[Hit] = field(default_factory=list)

    @property
    def categories(self) -> list[str]:
        found = {h.category for h in self.hits}
        return [c for c in CATEGORY_ORDER if c in found]

    @property
    def alarmed(self) -> bool:
        return bool(self.hits)


class Lexicon:
    def __init__(self, data: dict) -> None:
        self.risk: dict[str, str] = {}
        self.phrases: list[Phrase] = []
        self.exceptions: list[tuple[str, str]] = []  # (category, compact phrase)
        for name, spec in data["categories"].items():
            if name not in CATEGORY_ORDER:
                raise ValueError(f"unknown safety category {name!r}")
            if spec["risk"] not in RISK_ORDER[1:]:
                raise ValueError(f"{name}: risk must be one of {RISK_ORDER[1:]}")
            self.risk[name] = spec["risk"]
            floor = {compact(str(raw)) for raw in (data.get("floor") or {}).get(name, [])}
            plain = [raw for raw in spec["phrases"] if compact(str(raw)) not in floor]
            for raw in [*plain, *sorted(floor)]:
                c = compact(str(raw))
                if len(c) < 2:
                    raise ValueError(f"{name}: phrase {raw!r} is too short to match safely")
                # Initials are folded like the message is ("ㄱㅎㅇㅇ" arrives as "ㄱㅎㅇ").
                self.phrases.append(Phrase(name, c, decompose(c, split_compounds=True),
                                           _REPEAT.sub(r"\1", choseong(c)), c in floor))
            for raw in spec.get("except", []) or []:
                self.exceptions.append((name, compact(str(raw))))
        context = data.get("context") or {}
        self.defuse = [compact(str(x)) for x in context.get("defuse", [])]
        self.urgent = [compact(str(x)) for x in context.get("urgent", [])]

    @classmethod
    def load(cls, path: Path = LEXICON_PATH) -> Lexicon:
        with open(path, encoding="utf-8") as fh:
            return cls(yaml.safe_load(fh))

    def _short_phrase_text(self, text: str, c: str) -> str:
        """Where two-syllable phrases may match: inside one word each, so "혼자 살 집" is not
        "자살"; across words only when the whole message is spelled out syllable by syllable."""
        words = [compact(w) for w in text.split()]
        if words and sum(len(w) <= 1 for w in words) / len(words) >= 0.6:
            return c
        return "|".join(w for w in words if w)

    def playful(self, text: str, c: str | None = None) -> bool:
        """Laughter, fiction or a question about a word ("감금 영화 재밌어?", "살려줘ㅋㅋ 과제가 산더미야").
        Laughter is read from the raw text: folded, "ㅎㅎ" would look like one initial consonant."""
        c = compact(text) if c is None else c
        return bool(_LAUGHTER.search(text) or any(d in c for d in self.defuse))

    def _defused(self, text: str, c: str) -> bool:
        """Playful with no sign of urgency. Never applied to self-harm (see `screen`)."""
        return self.playful(text, c) and not any(u in c for u in self.urgent)

    def screen(self, text: str) -> ScreenResult:
        c = compact(text)
        if not c:
            return ScreenResult()
        short_c = self._short_phrase_text(text, c)
        # Everyday idioms that contain a crisis phrase are removed first ("배고파죽겠다").
        for _category, exc in self.exceptions:
            c = c.replace(exc, "|")
            short_c = short_c.replace(exc, "|")
        defused = self._defused(text, c)
        jamo = decompose(c, split_compounds=True)
        initials = choseong(c)
        consonant_runs = _CONSONANT_RUN.findall(c)
        result = ScreenResult()
        seen: set[tuple[str, str]] = set()
        for p in self.phrases:
            if defused and p.category != "self_harm":
                continue  # self-harm talk always gets the gentle 109 reply, joke or not
            method = None
            if p.text in (short_c if len(p.text) <= 2 else c):
                method = "exact"
            elif (len(p.initials) >= 3 and all(is_syllable(ch) for ch in p.text)
                  and any(p.initials in run for run in consonant_runs)):
                method = "initials"
            elif (len(p.jamo) >= FUZZY_MIN_JAMO and len(jamo) >= len(p.jamo) and p.initials in initials
                  and fuzz.partial_ratio(p.jamo, jamo, score_cutoff=FUZZY_CUTOFF)):
                method = "fuzzy"
            if method and (p.category, p.text) not in seen:
                seen.add((p.category, p.text))
                # A floor is unmistakable only said in earnest: laughter or fiction takes it off (never for
                # self-harm, which always gets the gentle 109 reply).
                floor = p.floor and (p.category == "self_harm" or not self.playful(text, c))
                result.hits.append(Hit(p.category, p.text, method, floor))
                result.risk = risk_max(result.risk, self.risk[p.category])
        return result


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    return Lexicon.load()


def screen(text: str) -> ScreenResult:
    return default_lexicon().screen(text)
