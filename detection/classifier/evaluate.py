"""Scores behind the CI thresholds: macro-F1 on the clean and obfuscated test splits, per-class F1,
youth recall, and false positives over every line of ../shared/benchmarks (none of them ads).

    .venv/bin/python -m detection.classifier.evaluate
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path

from detection.classifier.classify import CATEGORIES, Classifier
from detection.classifier.features import DATA

ROOT = Path(__file__).resolve().parents[2]
OBFUSCATED = DATA.with_name("posts_obfuscated_test.jsonl")
BENCHMARKS = ROOT.parent / "shared" / "benchmarks"
BLIND = DATA.parent / "blind"


def benchmark_comments(root: Path = BENCHMARKS) -> list[str]:
    """Every line of text in every benchmark file (its README lists them; none is an ad)."""
    out: list[str] = []
    for tsv in sorted((root / "korean-hate-speech").glob("*.tsv")):
        out += [line.split("\t")[0] for line in tsv.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    for tsv in sorted((root / "kote").glob("*.tsv")):  # id<TAB>text<TAB>labels
        out += [line.split("\t")[1] for line in tsv.read_text(encoding="utf-8").splitlines() if line.count("\t") >= 2]
    chat = root / "chatbot-data" / "ChatbotData.csv"  # Q,A,label: both sides are ordinary talk
    if chat.exists():
        import csv

        with chat.open(encoding="utf-8", newline="") as f:
            out += [cell for row in list(csv.reader(f))[1:] for cell in row[:2] if cell.strip()]
    reviews = root / "nsmc-reviews" / "random5000.tsv"  # id<TAB>document<TAB>label
    if reviews.exists():
        out += [line.split("\t")[1] for line in reviews.read_text(encoding="utf-8").splitlines()[1:]
                if line.count("\t") >= 2]
    cd = root / "curse-detection" / "dataset.txt"
    if cd.exists():
        out += [line.rsplit("|", 1)[0] for line in cd.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def scores(clf: Classifier, rows: Iterable[dict]) -> dict:
    from sklearn.metrics import f1_score

    rows = list(rows)
    verdicts = clf.classify_many([r["text"] for r in rows])
    y = [r["category"] for r in rows]
    p = [v.category for v in verdicts]
    per = f1_score(y, p, labels=list(CATEGORIES), average=None, zero_division=0)
    youth_rows = [(r, v) for r, v in zip(rows, verdicts, strict=True) if r["youth"]]
    youth_recall = sum(v.youth for _, v in youth_rows) / max(1, len(youth_rows))
    flagged_youth = [(r, v) for r, v in zip(rows, verdicts, strict=True) if v.youth]
    youth_precision = sum(r["youth"] for r, _ in flagged_youth) / max(1, len(flagged_youth))
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(y, p, labels=list(CATEGORIES)).tolist()  # rows: the writer's label
    return {"n": len(rows), "macro_f1": float(f1_score(y, p, labels=list(CATEGORIES), average="macro")),
            "confusion": matrix,
            "per_class": {c: round(float(f), 4) for c, f in zip(CATEGORIES, per, strict=True)},
            "youth_recall": youth_recall, "youth_precision": youth_precision, "youth_n": len(youth_rows),
            "errors": [(r["id"], r["category"], v.category, r["text"][:80])
                       for r, v in zip(rows, verdicts, strict=True) if r["category"] != v.category]}


def false_positives(clf: Classifier, comments: list[str]) -> tuple[int, list[str]]:
    hits = [c for c, v in zip(comments, clf.classify_many(comments), strict=True) if v.category != "none"]
    return len(hits), hits


def print_scores(name: str, s: dict) -> None:
    print(f"{name}: n={s['n']} macro-F1 {s['macro_f1']:.4f} per class {s['per_class']} "
          f"youth recall {s['youth_recall']:.4f} (n={s['youth_n']}) youth precision {s['youth_precision']:.4f}")
    print("  confusion (rows: label, columns: verdict)", " ".join(f"{c:>8}" for c in CATEGORIES))
    for c, row in zip(CATEGORIES, s["confusion"], strict=True):
        print(f"  {c:>41}", " ".join(f"{n:>8}" for n in row))


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    show = "--show" in args
    clf = Classifier.load()
    if "--blind" in args:  # the current blind set (detection/data/blind), not trained on
        blind = [r for path in sorted(BLIND.glob("*.jsonl")) for r in read_jsonl(path)]
        s = scores(clf, blind)
        print_scores("blind", s)
        for e in s["errors"] if show else []:
            print("   ", e)
        return 0
    test = [r for r in read_jsonl(DATA) if r["split"] == "test"]
    for name, rows in (("clean test", test),
                       ("obfuscated test", read_jsonl(OBFUSCATED) if OBFUSCATED.exists() else [])):
        if not rows:
            continue
        s = scores(clf, rows)
        print_scores(name, s)
        if show:
            for e in s["errors"][:40]:
                print("   ", e)
    comments = benchmark_comments()
    n, hits = false_positives(clf, comments)
    print(f"benchmarks: {n} false positives / {len(comments)} comments = {n / max(1, len(comments)):.3%}")
    if show:
        for h in hits[:40]:
            print("   FP:", h[:100])
    return 0


if __name__ == "__main__":
    sys.exit(main())
