"""The classification core: normalise → rules + model (→ optional LLM judge) → Verdict.

Other modules (sources, evidence, clusters, reports, review UI) use only `Verdict` and
`Classifier.load(...).classify(text, images)`; keep this interface stable.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from detection.classifier.features import FastModel, fingerprint, model_path
from detection.classifier.normalise import Normalised, normalise
from detection.classifier.rules import LEXICON_PATH, RuleBook, RuleResult, rule_score
from detection.classifier.second import MIN_LETTERS, SecondStage, e5_embed, is_candidate, letters

log = logging.getLogger(__name__)

CATEGORIES = ("outcall", "venue", "recruit", "none")
AD_CATEGORIES = CATEGORIES[:3]
THRESHOLD = 0.5        # score at or above which a post is an ad
YOUTH_THRESHOLD = 0.5
EMBED_BATCH = 256  # candidates embedded per call: any number of posts in, bounded memory


@dataclass
class Verdict:
    category: str            # outcall | venue | recruit | none
    youth: bool
    score: float             # 0..1, confidence that the post is an ad (category != none)
    reasons: list[dict] = field(default_factory=list)
    indicators: dict = field(default_factory=dict)
    normalised: str = ""
    ocr_text: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_bundle(settings: Any = None, build: bool = True) -> dict:
    """The trained model; built first when missing or stale (data/code fingerprint changed)."""
    import joblib

    path = model_path(settings)
    bundle = None
    if path.exists():
        try:
            bundle = joblib.load(path)
        except Exception as e:  # a model from another scikit-learn version: rebuild it
            log.warning("detection model unreadable (%s), rebuilding", type(e).__name__)
    if bundle is None or bundle.get("fingerprint") != fingerprint():
        if not build:
            raise FileNotFoundError(f"detection model missing or stale: {path} (run `make setup` or `dasi init`)")
        from detection.classifier.train import train

        train(settings, force=True, quiet=True)
        bundle = joblib.load(path)
    return bundle


class Classifier:
    def __init__(self, bundle: dict, rulebook: RuleBook | None = None, judge: Any = None,
                 settings: Any = None) -> None:
        self.model = FastModel(bundle)
        self.second: SecondStage | None = bundle.get("second")  # None in a model from before the second pass
        self.rulebook = rulebook or RuleBook(LEXICON_PATH)
        self.judge = judge  # detection.classifier.llm.LLMJudge or None (off by default)
        self.settings = settings

    @classmethod
    def load(cls, settings: Any = None, lexicon: Path | None = None, judge: Any = None) -> Classifier:
        if settings is None:
            from assistant.core.settings import get_settings

            settings = get_settings()
        if judge is None:
            from detection.classifier.llm import LLMJudge

            judge = LLMJudge.from_settings(settings)
        return cls(load_bundle(settings), RuleBook(lexicon or LEXICON_PATH), judge, settings)

    def classify(self, text: str, images: Sequence[str | bytes] = ()) -> Verdict:
        return self.classify_many([(text, images)])[0]

    def classify_many(self, posts: Sequence[str | tuple[str, Sequence[str | bytes]]]) -> list[Verdict]:
        """Verdicts in input order. The second pass embeds all the batch's candidates in one call, which
        costs a fraction of one call per post."""
        firsts = [self._first_pass(*(p if isinstance(p, tuple) else (p, ()))) for p in posts]
        todo = [f for f in firsts if f.candidate]  # only when there is a second pass
        for i in range(0, len(todo), EMBED_BATCH):
            batch = todo[i:i + EMBED_BATCH]
            probs, young = self.second.predict(e5_embed([f.norm.text for f in batch]),  # type: ignore[union-attr]
                                               np.vstack([f.features for f in batch]))
            for f, pr, y in zip(batch, probs, young, strict=True):
                f.second_pass(pr, float(y))
        return [self._finish(f) for f in firsts]

    def _first_pass(self, text: str, images: Sequence[str | bytes]) -> _Pending:
        text = text or ""
        ocr_text = ""
        if images:
            from detection.classifier.ocr import ocr_images

            ocr_text = ocr_images(images)
        # OCR text is classified together with the post; its spans are reported against ocr_text.
        full = text + ("\n" + ocr_text if ocr_text else "")
        norm = normalise(full)
        rr = self.rulebook.apply(norm)
        sc = self.model.score(norm, rr)
        # Two layers, each may raise the alarm: the model, and the rules' own explicit evidence
        # (ad vocabulary + contact/price, minus news/help context).
        rule_p = rule_score(rr)
        f = _Pending(text=text, full=full, ocr_text=ocr_text, norm=norm, rr=rr, rule_p=rule_p,
                     p_ad=max(1.0 - sc.proba.get("none", 0.0), rule_p),
                     ad_probs={c: sc.proba.get(c, 0.0) + 0.1 * rr.weight(c) for c in AD_CATEGORIES},
                     youth_p=sc.youth)
        f.reasons = _rule_reasons(rr, len(text)) + [{"kind": "model", "feature": ft, "weight": w}
                                                    for ft, w in sc.contributions]
        if not rr.hits and letters(norm.text) < MIN_LETTERS:
            f.p_ad = min(f.p_ad, THRESHOLD / 2)  # a few initials or a bare link: nothing says what is on offer
        elif self.second is not None and is_candidate(f.p_ad, rr.minor_age, bool(rr.hits), norm.text):
            # Suspicious at all: read again with the sentence embedding (the second pass is calibrated on
            # the first pass's held-out outputs; the rules count as one of its inputs).
            f.candidate = True
            f.features = SecondStage.first_features(np.array([[sc.proba[c] for c in self.model.classes]]),
                                                    np.array([sc.youth]), np.array([rule_p]))
        return f

    def _finish(self, f: _Pending) -> Verdict:
        if self.judge is not None and self.judge.wants(f.p_ad):
            judged = self.judge.judge(f.full, f.p_ad, f.ad_probs, f.youth_p)
            if judged is not None:
                f.p_ad, f.ad_probs, f.youth_p, reason = judged
                f.reasons.append(reason)
        rr = f.rr
        category = max(f.ad_probs, key=lambda c: f.ad_probs[c]) if f.p_ad >= THRESHOLD else "none"
        youth = category != "none" and (f.youth_p >= YOUTH_THRESHOLD or rr.minor_age or rr.weight("youth") >= 3)
        return Verdict(category=category, youth=bool(youth), score=round(float(f.p_ad), 4), reasons=f.reasons,
                       indicators=_indicators(rr, len(f.text)), normalised=f.norm.text, ocr_text=f.ocr_text)


@dataclass
class _Pending:
    """One post between the passes."""
    text: str
    full: str
    ocr_text: str
    norm: Normalised
    rr: RuleResult
    rule_p: float
    p_ad: float
    ad_probs: dict[str, float]
    youth_p: float
    reasons: list[dict] = field(default_factory=list)
    candidate: bool = False
    features: np.ndarray | None = None

    def second_pass(self, probs: dict[str, float], youth: float) -> None:
        # The mean of the two passes' estimates: on the regression sets (own test splits, the hand-written
        # posts, the benchmarks) it beat either pass alone. The rules' explicit evidence stays a floor.
        second_ad = 1.0 - probs.get("none", 0.0)
        self.p_ad = max((self.p_ad + second_ad) / 2, self.rule_p)
        self.ad_probs = {c: (self.ad_probs[c] + probs.get(c, 0.0) + 0.1 * self.rr.weight(c)) / 2
                         for c in AD_CATEGORIES}
        self.youth_p = (self.youth_p + youth) / 2
        self.reasons.append({"kind": "embedding", "score": round(second_ad, 4)})


def _where(span: Sequence[int], n_text: int) -> dict:
    """Spans past the post's own text come from OCR: report them against ocr_text instead."""
    s, e = span
    if s > n_text:
        return {"span": [s - n_text - 1, e - n_text - 1], "source": "ocr"}
    return {"span": [s, min(e, n_text)]}


def _rule_reasons(rr: RuleResult, n_text: int) -> list[dict]:
    out, seen = [], set()
    for h in rr.hits:
        key = (h.rule, h.span)
        if key in seen:
            continue
        seen.add(key)
        out.append({"kind": "rule", "rule": h.rule, "category": h.category, "text": h.text, **_where(h.span, n_text)})
    return out


def _indicators(rr: RuleResult, n_text: int) -> dict:
    out: dict[str, list[dict]] = {}
    for kind in ("price", "act", "age", "contacts"):
        items = []
        for f in rr.indicators.get(kind, []):
            item = {k: v for k, v in f.items() if k not in ("span", "text")}
            item.update(_where(f["span"], n_text))
            items.append(item)
        out[kind] = items
    return out
