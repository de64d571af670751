"""Hangul helpers: jamo decomposition/composition and initial consonants.

Pure Python with no dependencies, so the Rasa virtualenv can import it too.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

SBASE, LBASE, VBASE, TBASE = 0xAC00, 0x1100, 0x1161, 0x11A7
LCOUNT, VCOUNT, TCOUNT = 19, 21, 28
NCOUNT = VCOUNT * TCOUNT

# Compatibility jamo (what phone keyboards type) in the order Unicode composes them.
CHOSEONG = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
JUNGSEONG = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
JONGSEONG = " ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"  # index 0 = no final

_VOWEL_PAIRS = {("ㅗ", "ㅏ"): "ㅘ", ("ㅗ", "ㅐ"): "ㅙ", ("ㅗ", "ㅣ"): "ㅚ", ("ㅜ", "ㅓ"): "ㅝ",
                ("ㅜ", "ㅔ"): "ㅞ", ("ㅜ", "ㅣ"): "ㅟ", ("ㅡ", "ㅣ"): "ㅢ"}
_FINAL_PAIRS = {("ㄱ", "ㅅ"): "ㄳ", ("ㄴ", "ㅈ"): "ㄵ", ("ㄴ", "ㅎ"): "ㄶ", ("ㄹ", "ㄱ"): "ㄺ",
                ("ㄹ", "ㅁ"): "ㄻ", ("ㄹ", "ㅂ"): "ㄼ", ("ㄹ", "ㅅ"): "ㄽ", ("ㄹ", "ㅌ"): "ㄾ",
                ("ㄹ", "ㅍ"): "ㄿ", ("ㄹ", "ㅎ"): "ㅀ", ("ㅂ", "ㅅ"): "ㅄ"}
_SPLIT_FINAL = {v: k for k, v in _FINAL_PAIRS.items()}
_SPLIT_VOWEL = {v: "".join(k) for k, v in _VOWEL_PAIRS.items()}

CONSONANTS = set(CHOSEONG) | set(JONGSEONG[1:])
VOWELS = set(JUNGSEONG)
_JAMO_RUN = re.compile(r"[ㄱ-ㅣ]+")


def is_syllable(ch: str) -> bool:
    return SBASE <= ord(ch) < SBASE + LCOUNT * NCOUNT


def _parts(ch: str) -> tuple[int, int, int]:
    code = ord(ch) - SBASE
    return code // NCOUNT, (code % NCOUNT) // TCOUNT, code % TCOUNT


def _syllable(lead: str, vowel: str, final: str = " ") -> str:
    return chr(SBASE + (CHOSEONG.index(lead) * VCOUNT + JUNGSEONG.index(vowel)) * TCOUNT
               + JONGSEONG.index(final))


def decompose(text: str, split_compounds: bool = False) -> str:
    """Syllables → compatibility jamo ("죽고" → "ㅈㅜㄱㄱㅗ"); other characters unchanged."""
    out = []
    for ch in text:
        if is_syllable(ch):
            lead, vowel, final = _parts(ch)
            v = JUNGSEONG[vowel]
            out.append(CHOSEONG[lead] + (_SPLIT_VOWEL.get(v, v) if split_compounds else v))
            if final:
                f = JONGSEONG[final]
                out.append("".join(_SPLIT_FINAL.get(f, f)) if split_compounds else f)
        else:
            out.append(ch)
    return "".join(out)


def choseong(text: str) -> str:
    """Initial consonants of each syllable ("살려주세요" → "ㅅㄹㅈㅅㅇ"); jamo kept, others dropped."""
    out = []
    for ch in text:
        if is_syllable(ch):
            out.append(CHOSEONG[_parts(ch)[0]])
        elif ch in CONSONANTS:
            out.append(ch)
    return "".join(out)


def compose_groups(chars: Sequence[str]) -> list[tuple[str, int, int]]:
    """Compose a sequence of characters in which loose compatibility jamo may appear: one
    (output character, first index, last index) per output, so callers can keep a map back to the
    input. Consonants with no vowel stay as they are."""
    out: list[tuple[str, int, int]] = []
    i, n = 0, len(chars)
    while i < n:
        c = chars[i]
        if c in CHOSEONG and i + 1 < n and chars[i + 1] in VOWELS:
            vowel, j = chars[i + 1], i + 2
            if j < n and (vowel, chars[j]) in _VOWEL_PAIRS:
                vowel, j = _VOWEL_PAIRS[(vowel, chars[j])], j + 1
            final = " "
            # A consonant is a final only if no vowel follows it (else it leads the next syllable).
            if j < n and chars[j] in JONGSEONG[1:] and not (j + 1 < n and chars[j + 1] in VOWELS):
                final, j = chars[j], j + 1
                if j < n and (final, chars[j]) in _FINAL_PAIRS and not (j + 1 < n and chars[j + 1] in VOWELS):
                    final, j = _FINAL_PAIRS[(final, chars[j])], j + 1
            out.append((_syllable(c, vowel, final), i, j - 1))
            i = j
        else:
            out.append((c, i, i))
            i += 1
    return out


def _compose_run(run: str) -> str:
    return "".join(c for c, _, _ in compose_groups(run))


def compose(text: str) -> str:
    """Compose runs of loose jamo into syllables ("ㅈㅜㄱㄱㅗ ㅅㅣㅍㅇㅓ" → "죽고 싶어")."""
    text = unicodedata.normalize("NFC", text)
    return _JAMO_RUN.sub(lambda m: _compose_run(m.group(0)), text)


def to_compatibility_jamo(text: str) -> str:
    """Map conjoining jamo (what NFKC/NFD produce) back to the compatibility jamo people type."""
    out = []
    for ch in text:
        o = ord(ch)
        if LBASE <= o < LBASE + LCOUNT:
            out.append(CHOSEONG[o - LBASE])
        elif VBASE <= o < VBASE + VCOUNT:
            out.append(JUNGSEONG[o - VBASE])
        elif TBASE < o < TBASE + TCOUNT:
            out.append(JONGSEONG[o - TBASE])
        else:
            out.append(ch)
    return "".join(out)


def nfkc(text: str) -> str:
    """NFKC (fullwidth, circled, compatibility forms) without turning typed jamo into conjoining jamo."""
    # Per character, so NFKC cannot glue typed jamo into the wrong syllables; compose() does that.
    folded = "".join(ch if "\u3131" <= ch <= "\u318e" else unicodedata.normalize("NFKC", ch) for ch in text)
    return unicodedata.normalize("NFC", to_compatibility_jamo(folded))
