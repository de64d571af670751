"""The trained layer: character n-grams of the normalised text + the rule layer's numbers →
LogisticRegression (category) and a second one (youth). Trained by `detection/classifier/train.py`.

Scoring one post goes through `FastModel`, a few dict look-ups and one small matrix product on the
fitted weights, because scikit-learn's per-call overhead alone would miss 3,000 posts/s; a test
checks it agrees with scikit-learn's own predict_proba.
"""
from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detection.classifier.normalise import Normalised
from detection.classifier.rules import RuleResult

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data" / "posts.jsonl"
NGRAMS = (1, 3)
RULE_SCALE = 1.0  # rule columns are already log1p-scaled; tf-idf rows have unit length
MODEL_VERSION = 2
# Everything that changes the model: a different hash means `dasi init`/make retrain it.
FINGERPRINT_FILES = [DATA, DATA.with_name("benchmarks.jsonl"), HERE / "lexicon.yml", HERE / "slang.yml",
                     *sorted(HERE.glob("*.py")), *sorted((DATA.parent / "writers").glob("*.jsonl")),
                     *sorted((DATA.parent / "reported").glob("*.jsonl"))]


def fingerprint() -> str:
    h = hashlib.sha256(str(MODEL_VERSION).encode())
    for p in FINGERPRINT_FILES:
        h.update(p.name.encode())
        h.update(p.read_bytes() if p.exists() else b"")
    return h.hexdigest()


def model_path(settings: Any = None) -> Path:
    if settings is None:
        from assistant.core.settings import get_settings

        settings = get_settings()
    return Path(settings.models_dir) / "detection-model.joblib"


def rule_feature_names() -> list[str]:
    from detection.classifier.rules import RULE_CATEGORIES

    return [f"rule:{c}" for c in RULE_CATEGORIES] + ["rule:price", "rule:contacts", "rule:minor_age"]


@dataclass
class Scores:
    proba: dict[str, float]      # category → probability
    youth: float
    contributions: list[tuple[str, float]]  # (feature, weight) for the predicted class, strongest first


class FastModel:
    """The fitted weights in plain arrays; `score()` equals sklearn's predict_proba on one post."""

    def __init__(self, bundle: dict) -> None:
        vec, clf, yclf = bundle["vectorizer"], bundle["clf"], bundle["youth_clf"]
        self.classes: list[str] = list(clf.classes_)
        # Plain ints: numpy scalars as dict values made every look-up and conversion several times slower.
        self.vocab: dict[str, int] = {k: int(v) for k, v in vec.vocabulary_.items()}
        self.idf = vec.idf_.astype(np.float64)
        self.n_text = len(self.idf)
        self.names = [None] * self.n_text
        for term, j in self.vocab.items():
            self.names[j] = term
        self.names += rule_feature_names()
        # One matrix: class columns, then the youth logit column.
        self.W = np.hstack([clf.coef_.T, yclf.coef_.T]).astype(np.float64)
        self.b = np.concatenate([clf.intercept_, yclf.intercept_]).astype(np.float64)
        self.lo, self.hi = bundle.get("ngrams", NGRAMS)
        self.rule_idx = np.arange(self.n_text, len(self.names))

    def _vector(self, compact: str, rules: RuleResult) -> tuple[np.ndarray, np.ndarray]:
        n = len(compact)
        grams = [compact[i:i + k] for k in range(self.lo, self.hi + 1) for i in range(n - k + 1)]
        counts = Counter(map(self.vocab.get, grams))  # map()/Counter: the loops run in C
        counts.pop(None, None)
        if counts:
            idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            val = (1.0 + np.log(tf)) * self.idf[idx]  # sublinear tf × idf, then unit length
            val /= math.sqrt(float(val @ val))
        else:
            idx, val = np.empty(0, dtype=np.int64), np.empty(0)
        rf = np.asarray(rules.features(), dtype=np.float64) * RULE_SCALE
        return np.concatenate([idx, self.rule_idx]), np.concatenate([val, rf])

    def score(self, norm: Normalised, rules: RuleResult, top: int = 5) -> Scores:
        idx, val = self._vector(norm.compact.text, rules)
        Wi = self.W[idx]
        logits = val @ Wi + self.b
        k = len(self.classes)
        z = logits[:k] - logits[:k].max()
        p = np.exp(z)
        p /= p.sum()
        youth = 1.0 / (1.0 + math.exp(-logits[k]))
        best = int(np.argmax(p))
        contrib = val * Wi[:, best]
        order = np.argpartition(-contrib, top)[:top] if len(contrib) > top else np.arange(len(contrib))
        order = order[np.argsort(-contrib[order])]
        feats = [(self.names[idx[o]], round(float(contrib[o]), 4)) for o in order if contrib[o] > 0]
        return Scores({c: float(p[i]) for i, c in enumerate(self.classes)}, youth, feats)
