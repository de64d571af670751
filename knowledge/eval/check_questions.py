"""Check knowledge/eval/questions.jsonl, the retrieval evaluation set.

    python3 knowledge/eval/check_questions.py

Every line must parse as {"q": str, "ids": [1-3 article ids]}; every id must be a published
article; every published article must be asked about at least once; no question may share 4 or
more consecutive words with any article's title or `questions:` list (drafts included), so the
set measures retrieval of real wording rather than recall of the front matter.

Questions that the safety screen would intercept never reach retrieval; they are listed as warnings
when the screen can be imported (run with the project's virtualenv: .venv/bin/python). Warnings do
not fail the check, because the lexicon changes on its own schedule; reword the question instead.
"""
from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ARTICLES = HERE.parent / "articles"
QUESTIONS = HERE / "questions.jsonl"
NGRAM = 4
_WORD = re.compile(r"[0-9A-Za-z가-힣ㄱ-ㅎㅏ-ㅣ%#+\-]+")


def words(text: str) -> list[str]:
    """Whitespace words with punctuation and emoji dropped ("돼요?" and "돼요" are one word)."""
    out = []
    for tok in text.lower().split():
        w = "".join(_WORD.findall(tok))
        w = re.sub(r"[ㅠㅜㅋㅎ]+$", "", w)  # trailing ㅠㅠ / ㅋㅋ do not make a new word
        if w:
            out.append(w)
    return out


def ngrams(ws: list[str], n: int = NGRAM) -> set[tuple[str, ...]]:
    return {tuple(ws[i:i + n]) for i in range(len(ws) - n + 1)}


def load_articles() -> dict[str, dict]:
    arts = {}
    for p in sorted(ARTICLES.glob("*.md")):
        header = p.read_text(encoding="utf-8")[4:].split("\n---\n", 1)[0]
        meta = yaml.safe_load(header)
        arts[str(meta["id"])] = meta
    return arts


def main() -> int:
    arts = load_articles()
    published = {a for a, m in arts.items() if m.get("status") == "published"}
    banned: dict[tuple[str, ...], str] = {}
    for aid, m in arts.items():
        for text in [str(m["title"]), *map(str, m.get("questions") or [])]:
            for g in ngrams(words(text)):
                banned.setdefault(g, f"{aid}: {text}")

    errors: list[str] = []
    warnings: list[str] = []
    rows = []
    for n, line in enumerate(QUESTIONS.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            errors.append(f"line {n}: empty line")
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"line {n}: not JSON ({exc})")
            continue
        q, ids = row.get("q"), row.get("ids")
        if set(row) != {"q", "ids"}:
            errors.append(f"line {n}: keys must be exactly q and ids, got {sorted(row)}")
        if not isinstance(q, str) or not q.strip():
            errors.append(f"line {n}: q must be a non-empty string")
            continue
        if not (isinstance(ids, list) and 1 <= len(ids) <= 3 and all(isinstance(i, str) for i in ids)
                and len(set(ids)) == len(ids)):
            errors.append(f"line {n}: ids must be 1-3 distinct strings")
            continue
        for i in ids:
            if i not in arts:
                errors.append(f"line {n}: unknown article {i!r}")
            elif i not in published:
                errors.append(f"line {n}: {i!r} is a draft, not answerable")
        for g in ngrams(words(q)):
            if g in banned:
                errors.append(f"line {n}: shares {' '.join(g)!r} with {banned[g]}")
                break
        rows.append((n, q, ids))

    for q, c in Counter(q for _, q, _ in rows).items():
        if c > 1:
            errors.append(f"duplicate question ({c}x): {q}")
    covered = Counter(i for _, _, ids in rows for i in ids)
    first = Counter(ids[0] for _, _, ids in rows)
    for aid in sorted(published - set(covered)):
        errors.append(f"published article never asked about: {aid}")

    try:
        sys.path.insert(0, str(HERE.parents[1]))
        from assistant.safety.screen import screen
    except Exception as exc:  # noqa: BLE001 - optional check
        print(f"(safety screen not checked: {exc.__class__.__name__}: {exc})")
    else:
        for n, q, _ in rows:
            hit = screen(q)
            if hit.alarmed:
                warnings.append(f"line {n}: the safety screen intercepts it "
                                f"({', '.join(h.phrase for h in hit.hits)}): {q}")

    by_cat_q: Counter = Counter()
    for _, _, ids in rows:
        if ids[0] in arts:
            by_cat_q[arts[ids[0]]["category"]] += 1
    print(f"{len(rows)} questions, {len(covered)}/{len(published)} published articles covered")
    print("category            questions(first id)  articles  covered")
    for cat in sorted({arts[a]["category"] for a in published}):
        in_cat = [a for a in published if arts[a]["category"] == cat]
        print(f"  {cat:18} {by_cat_q[cat]:5}               {len(in_cat):4}     "
              f"{sum(1 for a in in_cat if a in covered):4}")
    if "-v" in sys.argv:
        for aid in sorted(published):
            print(f"  {aid:32} first {first[aid]:3}  any {covered[aid]:3}")
    for w in warnings:
        print("WARNING", w)
    for e in errors:
        print("ERROR", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
