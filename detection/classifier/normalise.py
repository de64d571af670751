"""Undo the disguises ads use, keeping a map from every output character back to the original.

Stages (each keeps `starts`/`ends`, the original span of every output character):
  light     NFKC per character, format/zero-width characters dropped, lower case. Contacts, URLs
            and prices are read here, where Latin letters and digits are still what they were.
  text      + inserted symbols/emoji removed, look-alikes (Latin, digits, hanja, katakana) mapped to
            jamo, spaced-out syllables joined, loose jamo composed, runs of one character folded, and
            slang rewritten into what it stands for (slang.yml: initials, re-spellings, romanised words,
            trade coinages). This is `Verdict.normalised`.
  compact   `text` with only Hangul, Latin and digits: what rules and the model read, so spacing and
            punctuation games cannot split a term.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from assistant.core.hangul import CHOSEONG, JONGSEONG, JUNGSEONG, compose_groups, nfkc
from detection.classifier import slang

VOWELS = frozenset(JUNGSEONG)
LEADS = frozenset(CHOSEONG)
CONSONANTS = LEADS | frozenset(JONGSEONG[1:])

# Look-alikes that stand for a vowel when they follow a consonant jamo ("ㄱr" = 가, "ㅈ1" = 지).
VOWEL_LOOKALIKE = {"r": "ㅏ", "k": "ㅏ", "ト": "ㅏ", "卜": "ㅏ", "ł": "ㅏ", "l": "ㅣ", "i": "ㅣ", "1": "ㅣ",
                   "|": "ㅣ", "丨": "ㅣ", "u": "ㅜ", "t": "ㅓ"}
# Look-alikes that stand for a consonant when a vowel follows ("77ㅏ" = 까, "0ㅣ" = 이).
CONSONANT_LOOKALIKE = {"77": "ㄲ", "7": "ㄱ", "o": "ㅇ", "0": "ㅇ", "〇": "ㅇ", "◎": "ㅇ", "口": "ㅁ",
                       "己": "ㄹ", "人": "ㅅ", "c": "ㄷ", "e": "ㄹ", "2": "ㄹ",
                       "勹": "ㄱ", "工": "ㅍ", "亡": "ㄷ", "叶": "ㅂ", "日": "ㅂ"}
# Hanja and kana written for their sound or meaning in ad text (KOTOX transliteration family).
SCRIPT_LOOKALIKE = {"出": "출", "張": "장", "张": "장", "女": "여", "男": "남", "安": "안", "馬": "마",
                    "條": "조", "件": "건", "萬": "만", "万": "만", "夜": "야", "房": "방", "愛": "애",
                    "カ": "가", "ガ": "가", "コ": "고", "ロ": "ㅁ", "卒": "쭈", "水": "물", "王": "왕"}
# Cheap checks that let most ordinary comments skip a stage (throughput target: 3,000 posts/s).
_HAS_JAMO = re.compile(r"[ㄱ-ㅣ]")
_HAS_SPACED = re.compile(r"(?:^|\s)[가-힣ㄱ-ㅣ]\s+[가-힣ㄱ-ㅣ]\s+[가-힣ㄱ-ㅣ](?:\s|$)|[ㄱ-ㅎ]\s+[ㅏ-ㅣ]")
_HAS_REPEAT = re.compile(r"(\D)\1\1")
_DIGIT_O = re.compile(r"\d[o]|[o]\d")


_WORD_RUN = re.compile(r"[가-힣ㄱ-ㅣa-z0-9]+")


def _is_hangul(ch: str) -> bool:
    return "가" <= ch <= "힣" or "ㄱ" <= ch <= "ㅣ"


def _is_word(ch: str) -> bool:
    return _is_hangul(ch) or ch.isascii() and ch.isalnum()


@dataclass
class Mapped:
    """A string plus, for every character, the [start, end) it came from in the original."""
    text: str
    starts: list[int]
    ends: list[int]

    def span(self, s: int, e: int) -> tuple[int, int]:
        """Original span of text[s:e]."""
        if not self.text or e <= s:
            return (self.starts[s], self.starts[s]) if s < len(self.starts) else (0, 0)
        return self.starts[s], self.ends[e - 1]


@dataclass
class Normalised:
    original: str
    light: Mapped
    full: Mapped
    compact: Mapped

    @property
    def text(self) -> str:
        return self.full.text


_PLAIN = re.compile(r"[\x20-\x7e가-힣]*")
_WS = re.compile(r"\s")


def _light(text: str) -> tuple[list[str], list[int], list[int]]:
    text = _WS.sub(" ", text)  # one-for-one, so offsets are unchanged
    if _PLAIN.fullmatch(text):  # the common case: printable ASCII and syllables only
        return list(text.lower()), list(range(len(text))), list(range(1, len(text) + 1))
    cs: list[str] = []
    st: list[int] = []
    en: list[int] = []
    for i, ch in enumerate(text):
        if ch.isascii() or "가" <= ch <= "힣":
            cs.append(ch.lower() if "A" <= ch <= "Z" else ch)
            st.append(i)
            en.append(i + 1)
            continue
        cat = unicodedata.category(ch)
        # Cf: zero-width space/joiner, BOM, bidi marks; plus variation selectors and Hangul fillers.
        if cat == "Cf" or "\ufe00" <= ch <= "\ufe0f" or ch in "\u3164\u115f\u1160\uffa0\u20e3":
            continue
        out = ch if ch.isascii() else nfkc(ch)
        for o in out.lower():
            cs.append(o)
            st.append(i)
            en.append(i + 1)
    return cs, st, en


_SYMBOL_RUN = re.compile(r"[^\w\s|]+|_+")


def _drop_symbols(cs: list[str], st: list[int], en: list[int]) -> tuple[list[str], list[int], list[int]]:
    """Symbols and emoji go; a run between two non-Hangul words becomes a space (a/b → a b)."""
    text = "".join(cs)
    if len(text) != len(cs):  # a character expanded to several: fall back to one per item
        text = "".join(c[:1] or " " for c in cs)
    oc: list[str] = []
    os_: list[int] = []
    oe: list[int] = []
    last = 0
    for m in _SYMBOL_RUN.finditer(text):
        i, j = m.span()
        oc += cs[last:i]
        os_ += st[last:i]
        oe += en[last:i]
        last = j
        prev = oc[-1] if oc else " "
        nxt = cs[j] if j < len(cs) else " "
        if not (_is_hangul(prev) or _is_hangul(nxt) or prev == " " or nxt == " "):
            oc.append(" ")
            os_.append(st[i])
            oe.append(en[j - 1])
    if last == 0:
        return cs, st, en
    oc += cs[last:]
    os_ += st[last:]
    oe += en[last:]
    return oc, os_, oe


def _lookalikes(cs: list[str], st: list[int], en: list[int]) -> None:
    """In place: look-alikes become jamo only where they complete a syllable with real jamo."""
    n = len(cs)
    for i in range(n):
        ch = cs[i]
        if ch in SCRIPT_LOOKALIKE and not ("a" <= ch <= "z"):
            cs[i] = SCRIPT_LOOKALIKE[ch]
        elif ch == "o" and (i > 0 and cs[i - 1].isdigit() or i + 1 < n and cs[i + 1].isdigit()):
            cs[i] = "0"  # 3ooo만원
    i = 0
    while i < n:
        ch = cs[i]
        if ch in VOWEL_LOOKALIKE and i > 0 and cs[i - 1] in LEADS and ch not in VOWELS:
            cs[i] = VOWEL_LOOKALIKE[ch]
        elif i + 1 < n and ch == "7" and cs[i + 1] == "7" and i + 2 < n and cs[i + 2] in VOWELS:
            cs[i], cs[i + 1] = "ㄲ", ""  # two characters, one jamo: the second is dropped later
            i += 2
            continue
        elif ch in CONSONANT_LOOKALIKE and ch not in LEADS and i + 1 < n and (
                cs[i + 1] in VOWELS or (cs[i + 1] in VOWEL_LOOKALIKE and not cs[i + 1].isdigit()
                                        and i > 0 and _is_hangul(cs[i - 1]))):
            cs[i] = CONSONANT_LOOKALIKE[ch]
        i += 1


def _join_spacing(cs: list[str], st: list[int], en: list[int]) -> tuple[list[str], list[int], list[int]]:
    """Drop spaces inside 'spaced-out' words: 3+ one-syllable tokens in a row, and jamo split by a
    space ("텔ㄹ ㅔ"). Ordinary spacing between words is kept."""
    text = "".join(cs)
    toks = text.split(" ")
    drop: set[int] = set()  # indexes of spaces to drop
    pos = 0
    run: list[int] = []  # positions of spaces between consecutive one-character tokens
    single_run = 0
    for _k, tok in enumerate(toks):
        end = pos + len(tok)
        is_single = len(tok) == 1 and _is_hangul(tok)
        if is_single:
            single_run += 1
            if single_run >= 2:
                run.append(pos - 1)
        else:
            if single_run >= 3:
                drop.update(run)
            run, single_run = [], 0
        pos = end + 1
    if single_run >= 3:
        drop.update(run)
    for i in range(1, len(cs) - 1):
        if cs[i] == " " and cs[i - 1] in CONSONANTS and cs[i + 1] in VOWELS:
            drop.add(i)
    oc, os_, oe = [], [], []
    prev_space = True
    for i, ch in enumerate(cs):
        if ch == "":
            continue
        if ch == " ":
            if i in drop or prev_space:
                continue
            prev_space = True
        else:
            prev_space = False
        oc.append(ch)
        os_.append(st[i])
        oe.append(en[i])
    while oc and oc[-1] == " ":
        oc.pop()
        os_.pop()
        oe.pop()
    return oc, os_, oe


def _compose(cs: list[str], st: list[int], en: list[int]) -> tuple[list[str], list[int], list[int]]:
    """Loose jamo → syllables (assistant.core.hangul's rules), spans kept."""
    groups = compose_groups(cs)
    return [c for c, _, _ in groups], [st[a] for _, a, _ in groups], [en[b] for _, _, b in groups]


def _abbreviations(cs: list[str], st: list[int], en: list[int]) -> tuple[list[str], list[int], list[int]]:
    oc, os_, oe = [], [], []
    i, n = 0, len(cs)
    while i < n:
        if cs[i] in CONSONANTS and (i == 0 or not _is_hangul(cs[i - 1])):
            j = i
            while j < n and cs[j] in CONSONANTS:
                j += 1
            tok = "".join(cs[i:j])
            initials = slang.current().initials
            if tok in initials and (j == n or not _is_hangul(cs[j]) or cs[j] in "만남"):
                for ch in initials[tok]:
                    oc.append(ch)
                    os_.append(st[i])
                    oe.append(en[j - 1])
                i = j
                continue
        oc.append(cs[i])
        os_.append(st[i])
        oe.append(en[i])
        i += 1
    return oc, os_, oe


def _slang(cs: list[str], st: list[int], en: list[int]) -> tuple[list[str], list[int], list[int]]:
    """Re-spellings, trade coinages and romanised words rewritten into what they stand for (slang.yml);
    every character of a meaning maps back to the whole span of its form."""
    dictionary = slang.current()
    text = "".join(cs)
    if dictionary.pattern is None or not dictionary.pattern.search(text):
        return cs, st, en
    oc, os_, oe, last = [], [], [], 0
    for m in dictionary.pattern.finditer(text):
        i, j = m.span()
        oc += cs[last:i]
        os_ += st[last:i]
        oe += en[last:i]
        for ch in dictionary.meaning(m.group()):
            oc.append(ch)
            os_.append(st[i])
            oe.append(en[j - 1])
        last = j
    return oc + cs[last:], os_ + st[last:], oe + en[last:]


def _fold_repeats(cs: list[str], st: list[int], en: list[int]) -> tuple[list[str], list[int], list[int]]:
    """A run of 3+ of one character (not digits: phone numbers) becomes one: 조오옹건 stays, 만만만남 → 만남."""
    oc, os_, oe = [], [], []
    i, n = 0, len(cs)
    while i < n:
        j = i
        while j + 1 < n and cs[j + 1] == cs[i]:
            j += 1
        if j - i >= 2 and not cs[i].isdigit() and cs[i] != " ":
            oc.append(cs[i])
            os_.append(st[i])
            oe.append(en[j])
        else:
            for k in range(i, j + 1):
                oc.append(cs[k])
                os_.append(st[k])
                oe.append(en[k])
        i = j + 1
    return oc, os_, oe


def normalise(text: str) -> Normalised:
    cs, st, en = _light(text)
    light = Mapped("".join(cs), list(st), list(en))
    cs, st, en = _drop_symbols(cs, st, en)
    cur = "".join(cs)
    jamo = bool(_HAS_JAMO.search(cur))
    if jamo or _DIGIT_O.search(cur) or any(ch in SCRIPT_LOOKALIKE for ch in cur
                                           if not ch.isascii() and not "가" <= ch <= "힣"):
        _lookalikes(cs, st, en)
        jamo = jamo or any(ch in VOWELS or ch in CONSONANTS for ch in cs)
    if jamo or _HAS_SPACED.search(cur) or "" in cs or "  " in cur or cur[:1] == " " or cur[-1:] == " ":
        cs, st, en = _join_spacing(cs, st, en)
    if jamo:
        cs, st, en = _compose(cs, st, en)
        cs, st, en = _abbreviations(cs, st, en)
    if _HAS_REPEAT.search("".join(cs)):
        cs, st, en = _fold_repeats(cs, st, en)
    cs, st, en = _slang(cs, st, en)
    full = Mapped("".join(cs), st, en)
    cst: list[int] = []
    cen: list[int] = []
    parts = []
    for m in _WORD_RUN.finditer(full.text):
        i, j = m.span()
        parts.append(m.group())
        cst += st[i:j]
        cen += en[i:j]
    compact = Mapped("".join(parts), cst, cen)
    return Normalised(text, light, full, compact)
