"""The classification core: normalise → rules + model (→ optional LLM judge) → Verdict.

Other modules (sources, evidence, clusters, reports, review UI) use only `Verdict` and
`Classifier.load(...).classify(text, images)`; keep this interface stable.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from detection.classifier.features import FastModel, fingerprint, model_path
from detection.classifier.normalise import normalise
from detection.classifier.rules import LEXICON_PATH, RuleBook, RuleResult

log = logging.getLogger(__name__)

CATEGORIES = ("outcall", "venue", "recruit", "none")
AD_CATEGORIES = CATEGORIES[:3]
THRESHOLD = 0.5        # score at or above which a post is an ad
YOUTH_THRESHOLD = 0.5


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
        # (ad vocabulary + contact/price, minus news/help context). The model learned from ~2k
        # posts we wrote; the rules carry what staff know, for phrasings the model never saw.
        rule_p = rule_score(rr)
        p_ad = max(1.0 - sc.proba.get("none", 0.0), rule_p)
        ad_probs = {c: sc.proba.get(c, 0.0) + 0.1 * rr.weight(c) for c in AD_CATEGORIES}
        youth_p = sc.youth
        reasons: list[dict] = _rule_reasons(rr, len(text))
        reasons += [{"kind": "model", "feature": f, "weight": w} for f, w in sc.contributions]
        if self.judge is not None and self.judge.wants(p_ad):
            judged = self.judge.judge(full, p_ad, ad_probs, youth_p)
            if judged is not None:
                p_ad, ad_probs, youth_p, reason = judged
                reasons.append(reason)
        category = max(ad_probs, key=ad_probs.get) if p_ad >= THRESHOLD else "none"
        youth = category != "none" and (youth_p >= YOUTH_THRESHOLD or rr.minor_age or rr.weight("youth") >= 3)
        return Verdict(category=category, youth=bool(youth), score=round(float(p_ad), 4), reasons=reasons,
                       indicators=_indicators(rr, len(text)), normalised=norm.text, ocr_text=ocr_text)


RULE_BIAS = 4.5  # evidence at which the rule layer alone says 50 %: e.g. one strong term + a contact


def rule_score(rr: RuleResult) -> float:
    """The rule layer's own probability that the post is an ad (a logistic of weighed evidence)."""
    ind = rr.indicators
    evidence = (rr.weight("outcall") + rr.weight("venue") + rr.weight("recruit")
                + 0.5 * (rr.weight("youth") + rr.weight("act"))
                + (1.5 if ind.get("contacts") else 0.0) + (1.0 if ind.get("price") else 0.0)
                - 2.0 * rr.weight("context_none"))
    return 1.0 / (1.0 + math.exp(-(evidence - RULE_BIAS)))


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
