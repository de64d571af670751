"""Train the detection model from the repo's data → var/detection/model.joblib (not committed).

    .venv/bin/python -m detection.classifier.train [--force] [--eval]

Training data: the train split of detection/data/posts.jsonl, plus ordinary Korean the project
already ships as extra `none` examples (the Rasa NLU examples and knowledge articles: people asking
the centre for help, which talk about 성매매, 업소, 선불금 without being ads). Nothing from
../shared/benchmarks is used for training: that corpus only measures false positives.
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from detection.classifier.features import DATA, NGRAMS, RULE_SCALE, fingerprint, model_path
from detection.classifier.normalise import normalise
from detection.classifier.rules import RuleBook

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
CATEGORIES = ("outcall", "venue", "recruit", "none")


def load_posts(path: Path = DATA) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def repo_negatives() -> list[str]:
    """Ordinary Korean already in the repo (help-seeking messages, centre articles)."""
    out: list[str] = []
    nlu = ROOT / "assistant" / "rasa_project" / "data" / "nlu.yml"
    if nlu.exists():
        for item in (yaml.safe_load(nlu.read_text(encoding="utf-8")) or {}).get("nlu", []):
            for line in str(item.get("examples", "")).splitlines():
                line = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line.strip().lstrip("- ").strip())
                if len(line) >= 4:
                    out.append(line)
    for md in sorted((ROOT / "knowledge" / "articles").glob("*.md")):
        body = md.read_text(encoding="utf-8").split("---", 2)[-1]
        for para in re.split(r"\n\s*\n", body):
            para = re.sub(r"[#>*`\-]", " ", para).strip()
            if len(para) >= 10:
                out.append(para[:300])
    return out


def featurise(texts: Iterable[str], rulebook: RuleBook) -> tuple[list[str], np.ndarray]:
    lex = rulebook.current()
    compact, feats = [], []
    for t in texts:
        n = normalise(t)
        compact.append(n.compact.text)
        feats.append(lex.apply(n).features())
    return compact, np.asarray(feats, dtype=np.float64) * RULE_SCALE


def fit(texts: list[str], cats: list[str], youth: list[bool], rulebook: RuleBook) -> dict[str, Any]:
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    compact, rf = featurise(texts, rulebook)
    # char n-grams on the compact text: spacing games cannot move word boundaries; min_df=2 drops
    # one-off handles and numbers that would only memorise our own examples.
    vec = TfidfVectorizer(analyzer="char", ngram_range=NGRAMS, min_df=2, sublinear_tf=True, lowercase=False,
                          max_features=60000, dtype=np.float64)
    X = hstack([vec.fit_transform(compact), csr_matrix(rf)]).tocsr()
    clf = LogisticRegression(C=3.0, max_iter=3000, class_weight="balanced")
    clf.fit(X, cats)
    yclf = LogisticRegression(C=3.0, max_iter=3000, class_weight="balanced")
    yclf.fit(X, [int(y) for y in youth])
    return {"vectorizer": vec, "clf": clf, "youth_clf": yclf, "ngrams": NGRAMS}


def train(settings: Any = None, force: bool = False, quiet: bool = False) -> Path:
    """Build the model if missing or stale (fingerprint of the data and code); return its path."""
    import joblib

    path = model_path(settings)
    fp = fingerprint()
    if path.exists() and not force:
        try:
            if joblib.load(path).get("fingerprint") == fp:
                return path
        except Exception:  # unreadable or from another sklearn: rebuild
            pass
    t0 = time.perf_counter()
    rows = [r for r in load_posts() if r["split"] == "train"]
    extra = repo_negatives()
    texts = [r["text"] for r in rows] + extra
    cats = [r["category"] for r in rows] + ["none"] * len(extra)
    youth = [bool(r["youth"]) for r in rows] + [False] * len(extra)
    bundle = fit(texts, cats, youth, RuleBook())
    bundle["fingerprint"] = fp
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    joblib.dump(bundle, tmp, compress=3)
    tmp.replace(path)
    if not quiet:
        print(f"detection model: {len(rows)} posts + {len(extra)} repo negatives, "
              f"{len(bundle['vectorizer'].vocabulary_)} n-grams, {time.perf_counter() - t0:.1f}s → {path}")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m detection.classifier.train")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    train(force=args.force)  # scores: `python -m detection.classifier.evaluate` (it loads what this wrote)
    return 0


if __name__ == "__main__":
    sys.exit(main())
