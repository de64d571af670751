"""Train the detection model from the repo's data → models/detection-model.joblib (not committed).

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
import random
import re
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from detection.classifier.features import DATA, NGRAMS, RULE_SCALE, FastModel, fingerprint, model_path
from detection.classifier.normalise import normalise
from detection.classifier.rules import RuleBook, rule_score

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


WRITERS = DATA.parent / "writers"
BENCHMARK_LINES = DATA.parent / "benchmarks.jsonl"
REPORTED = DATA.parent / "reported"


def training_rows(staff: list[dict] | None = None) -> list[dict]:
    """Posts written by many hands (writers/, reported blind sets), real text from ../shared/benchmarks
    (benchmarks.jsonl: none of it is an ad; the lines that talk about the trade in passing are all in), the
    generated posts as augmentation, and the staff's review decisions (`staff`) when given. Each row has a
    `group` (its writer or source) so held-out figures can keep whole writers out."""
    rows = []
    for path in [*sorted(WRITERS.glob("*.jsonl")), *sorted(REPORTED.glob("*.jsonl"))]:
        rows += [{**r, "group": path.stem.split("_")[0]} for r in load_posts(path)]
    rows += [{**r, "group": "benchmarks"} for r in load_posts(BENCHMARK_LINES)]
    rows += [{**r, "group": "generated"} for r in load_posts() if r["split"] == "train"]
    rows += [{"text": t, "category": "none", "youth": False, "group": "repo"} for t in repo_negatives()]
    rows += [{**r, "group": "staff"} for r in staff or []]
    return rows


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


def first_pass_scores(bundle: dict, texts: list[str], rulebook: RuleBook) -> tuple[np.ndarray, np.ndarray]:
    """The first pass's outputs for the second (class probabilities, youth, rule score: (n, k+2)) and
    which posts it would hand to the second pass (the same test as Classifier.classify)."""
    from detection.classifier.second import SecondStage, is_candidate

    model = FastModel(bundle)
    lex = rulebook.current()
    probs, youth, rule, candidate = [], [], [], []
    for t in texts:
        n = normalise(t)
        rr = lex.apply(n)
        sc = model.score(n, rr)
        probs.append([sc.proba[c] for c in model.classes])
        youth.append(sc.youth)
        rule.append(rule_score(rr))
        candidate.append(is_candidate(max(1.0 - sc.proba.get("none", 0.0), rule[-1]), rr.minor_age, bool(rr.hits),
                                      n.text))
    return SecondStage.first_features(np.array(probs), np.array(youth), np.array(rule)), np.array(candidate)


def embeddings(texts: list[str], cache: Path) -> np.ndarray:
    """e5 vectors of what the second pass reads, cached by hash: a retrain embeds only what changed."""
    from assistant.core.vectors import cached_vectors
    from detection.classifier.second import EMBED_CHARS, e5_embed

    return cached_vectors([t[:EMBED_CHARS] for t in texts], e5_embed, cache)


def fit_both(rows: list[dict], cache: Path) -> dict[str, Any]:
    """First pass on everything; the second pass on the first pass's held-out outputs (two halves by
    writer or source, each scored by a first pass fitted on the other)."""
    import hashlib

    from detection.classifier.second import SecondStage

    rulebook = RuleBook()
    texts = [r["text"] for r in rows]
    cats = [r["category"] for r in rows]
    youth = [bool(r["youth"]) for r in rows]
    bundle = fit(texts, cats, youth, rulebook)
    groups = sorted({r["group"] for r in rows})
    side = np.array([groups.index(r["group"]) % 2 if r["group"] not in ("benchmarks", "generated", "repo")
                     else int(hashlib.sha1(r["text"].encode()).hexdigest(), 16) % 2 for r in rows])
    first = np.zeros((len(rows), len(CATEGORIES) + 2))
    candidate = np.zeros(len(rows), dtype=bool)
    for half in (0, 1):
        train_idx, test_idx = np.where(side != half)[0], np.where(side == half)[0]
        half_bundle = fit([texts[i] for i in train_idx], [cats[i] for i in train_idx],
                          [youth[i] for i in train_idx], rulebook)
        first[test_idx], candidate[test_idx] = first_pass_scores(half_bundle, [texts[i] for i in test_idx], rulebook)
    # The second pass sees what it will see in use: the posts the first pass hands it (held-out), among them
    # the ordinary comments that looked suspicious. Generated posts are sampled: embedding them all would
    # cost minutes at each `make setup` and teach it the generator's phrasing.
    chosen = [i for i in np.where(candidate)[0] if rows[i]["group"] != "generated"]
    generated = [i for i in np.where(candidate)[0] if rows[i]["group"] == "generated"]
    chosen = sorted(chosen + random.Random(7).sample(generated, min(400, len(generated))))
    emb = embeddings([texts[i] for i in chosen], cache)
    bundle["second"] = SecondStage.fit(emb, first[chosen], [cats[i] for i in chosen], [youth[i] for i in chosen])
    bundle["second_rows"] = {g: sum(rows[i]["group"] == g for i in chosen) for g in sorted({r["group"] for r in rows})}
    return bundle


def train(settings: Any = None, force: bool = False, quiet: bool = False, staff: list[dict] | None = None,
          path: Path | None = None) -> Path:
    """Build the model if missing or stale (fingerprint of the data and code); return its path."""
    import joblib

    path = path or model_path(settings)
    fp = fingerprint()
    if path.exists() and not force:
        try:
            if joblib.load(path).get("fingerprint") == fp:
                return path
        except Exception:  # unreadable or from another sklearn: rebuild
            pass
    t0 = time.perf_counter()
    rows = training_rows(staff)
    bundle = fit_both(rows, model_path(settings).parent / "cache" / "detection-embeddings.npz")
    bundle["fingerprint"] = fp
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    joblib.dump(bundle, tmp, compress=3)
    tmp.replace(path)
    if not quiet:
        by_group = {g: sum(r["group"] == g for r in rows) for g in sorted({r["group"] for r in rows})}
        print(f"detection model: {len(rows)} posts {by_group}, {len(bundle['vectorizer'].vocabulary_)} n-grams, "
              f"{time.perf_counter() - t0:.1f}s → {path}; second pass on {bundle['second_rows']}")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m detection.classifier.train")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    train(force=args.force)  # scores: `python -m detection.classifier.evaluate` (it loads what this wrote)
    return 0


if __name__ == "__main__":
    sys.exit(main())
