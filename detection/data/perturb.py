"""Obfuscated copy of the test split, the tricks of detection-notes §2 (seeded, reproducible):

spacing (syllables split apart / spaces removed), symbols between syllables, jamo split, look-alikes
(Latin/digits for jamo, hanja for sound or meaning, fullwidth, circled), zero-width characters,
emoji, repeated characters, initial-consonant abbreviations.

    .venv/bin/python -m detection.data.perturb   # rewrites posts_obfuscated_test.jsonl
"""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

from assistant.core.hangul import decompose

HERE = Path(__file__).resolve().parent
SRC = HERE / "posts.jsonl"
OUT = HERE / "posts_obfuscated_test.jsonl"
SEED = 20261125

SYMBOLS = ["★", "※", ".", "♥", "•", "_", "/", "~", "♡", "☆", "·", "^"]
EMOJI = ["💋", "🍑", "💦", "🔥", "❤️", "🌹", "😘", "💕", "✨", "🥰", "🔞", "💯", "😍"]
ZW = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u2060"]
# jamo → look-alike (KOTOX iconic family and the Seoul example "ㄱr능", "77ㅏㅈ1")
VOWEL_LOOK = {"ㅏ": ["r", "k", "ト"], "ㅣ": ["l", "1", "I", "丨"]}
CONS_LOOK = {"ㅇ": ["o", "0"], "ㄲ": ["77"], "ㅁ": ["口"], "ㄹ": ["己"]}
HANJA = {"출장": "出張", "여": "女", "안마": "安馬", "조건": "條件", "만": "萬"}
ABBR = {"조건만남": "ㅈㄱ만남", "조건": "ㅈㄱ", "출장": "ㅊㅈ", "키스방": "ㅋㅅㅂ", "오피": "ㅇㅍ"}
CIRCLED = {c: chr(0x326E + i) for i, c in enumerate("가나다라마바사아자차카타파하")}  # ㉮..㉻


def _syllables(text: str) -> list[int]:
    return [i for i, ch in enumerate(text) if "가" <= ch <= "힣"]


def spacing(r: random.Random, t: str) -> str:
    if r.random() < 0.3:
        return t.replace(" ", "")
    words = t.split(" ")
    for k, w in enumerate(words):
        if len(w) >= 2 and re.fullmatch(r"[가-힣]+", w) and r.random() < 0.5:
            words[k] = " ".join(w)
    return " ".join(words)


def symbols(r: random.Random, t: str) -> str:
    sym = r.choice(SYMBOLS)
    out = []
    for i, ch in enumerate(t):
        out.append(ch)
        if "가" <= ch <= "힣" and i + 1 < len(t) and "가" <= t[i + 1] <= "힣" and r.random() < 0.35:
            out.append(sym)
    return "".join(out)


def jamo(r: random.Random, t: str) -> str:
    return "".join(decompose(ch) if "가" <= ch <= "힣" and r.random() < 0.25 else ch for ch in t)


def lookalikes(r: random.Random, t: str) -> str:
    out = []
    for ch in t:
        if "가" <= ch <= "힣" and r.random() < 0.3:
            d = decompose(ch)
            if len(d) == 2 and d[1] in VOWEL_LOOK:  # 가 → ㄱr
                out.append(d[0] + r.choice(VOWEL_LOOK[d[1]]))
                continue
            if d[0] in CONS_LOOK and len(d) >= 2:  # 아 → oㅏ
                out.append(r.choice(CONS_LOOK[d[0]]) + d[1:])
                continue
            if ch in CIRCLED:
                out.append(CIRCLED[ch])
                continue
        if ch.isascii() and ch.isalnum() and r.random() < 0.5:
            out.append(chr(ord(ch) + 0xFEE0))  # fullwidth
            continue
        out.append(ch)
    t = "".join(out)
    for k, v in HANJA.items():
        if k in t and r.random() < 0.5:
            t = t.replace(k, v, 1)
    return t


def zero_width(r: random.Random, t: str) -> str:
    return "".join(ch + (r.choice(ZW) if r.random() < 0.3 else "") for ch in t)


def emoji(r: random.Random, t: str) -> str:
    out = []
    for ch in t:
        out.append(ch)
        if ch == " " and r.random() < 0.3:
            out.append(r.choice(EMOJI))
    return r.choice(EMOJI) + "".join(out) + r.choice(EMOJI) * r.randint(1, 3)


def repeats(r: random.Random, t: str) -> str:
    return "".join(ch * r.randint(3, 4) if "가" <= ch <= "힣" and r.random() < 0.08 else ch for ch in t)


def abbreviations(r: random.Random, t: str) -> str:
    for k, v in ABBR.items():
        if k in t and r.random() < 0.7:
            t = t.replace(k, v)
    return t


TRICKS = [spacing, symbols, jamo, lookalikes, zero_width, emoji, repeats, abbreviations]


def perturb(r: random.Random, text: str) -> tuple[str, list[str]]:
    chosen = r.sample(TRICKS, r.randint(2, 3))
    # Character-level tricks last so they are not undone by the word-level ones.
    chosen.sort(key=TRICKS.index)
    for f in chosen:
        text = f(r, text)
    return text, [f.__name__ for f in chosen]


def main() -> None:
    r = random.Random(SEED)
    rows = [json.loads(line) for line in SRC.read_text(encoding="utf-8").splitlines() if line.strip()]
    out = []
    for row in rows:
        if row["split"] != "test":
            continue
        text, tricks = perturb(r, row["text"])
        out.append({"id": row["id"] + "-obf", "text": text, "category": row["category"], "youth": row["youth"],
                    "split": "test", "source_id": row["id"], "perturbations": tricks})
    OUT.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in out), encoding="utf-8")
    print(f"{len(out)} obfuscated test posts → {OUT}")


if __name__ == "__main__":
    main()
