"""One risk assessment per message, read with the conversation so far.

Signals, combined:
- the lexicon's floor: a few unmistakable phrases (lexicon.yml `floor`) make their category at least high;
- the model's probability per category for the window (the message and up to three earlier ones);
- what the conversation carried so far (RiskContext): an age under 19 said earlier, and the categories
  already alarmed (a follow-up then gets a short reminder, not the whole emergency text again);
- in the action server, the NLU intent: it can lift a category the model already half-sees to high, but
  never makes a message critical on its own.
Output: a level (none/low/medium/high/critical), the alarmed categories (most urgent first), the scores,
and reasons naming the signals that fired (never the message text). When the model cannot be loaded the
lexicon alone decides, as before it existed: the person still gets the numbers.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.core.risk import ALARM_LEVELS, Risk, risk_max
from assistant.safety.risk.model import RiskModel, e5_embed
from assistant.safety.risk.text import CATEGORIES, window
from assistant.safety.screen import Lexicon, default_lexicon
from assistant.safety.youth_cues import is_minor

log = logging.getLogger("dasi.risk")

# Used only while no trained model is there (its own bars come from training).
DEFAULT_THRESHOLDS = {"low": 0.2, "medium": 0.4, "high": 0.6, "critical": 0.85}
# Critical needs a category that can kill or hurt a child now; exploitation alone is at most high.
CRITICAL_CATEGORIES = ("danger", "self_harm", "medical", "minor")
# NLU intents that are evidence for a category; one signal among several (see `with_intent`).
INTENT_CATEGORIES = {"emergency_danger": "danger", "self_harm": "self_harm", "youth_disclosure": "minor"}


@dataclass(frozen=True)
class RiskContext:
    """What one message leaves for the next: stored (encrypted) on the conversation."""

    minor: bool = False  # an age under 19 or a school year was said
    alarmed: tuple[str, ...] = ()  # categories that already got their emergency reply

    def as_dict(self) -> dict[str, Any]:
        return {"minor": self.minor, "alarmed": list(self.alarmed)}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RiskContext:
        data = data or {}
        return cls(bool(data.get("minor")), tuple(c for c in data.get("alarmed", []) if c in CATEGORIES))


@dataclass(frozen=True)
class Assessment:
    level: str
    categories: tuple[str, ...]  # alarmed (high or critical), most urgent first
    scores: dict[str, float]
    reasons: tuple[str, ...]
    context: RiskContext = field(default_factory=RiskContext)
    previous: tuple[str, ...] = ()  # categories alarmed earlier in the conversation

    @property
    def alarmed(self) -> bool:
        return self.level in ALARM_LEVELS

    @property
    def new_categories(self) -> tuple[str, ...]:
        """Alarmed now but not before in this conversation: these get the full emergency reply."""
        return tuple(c for c in self.categories if c not in self.previous)

    @property
    def likeliest(self) -> str:
        """The category with the highest score (meaningful when the level is at least medium)."""
        return max(self.scores, key=lambda c: self.scores[c])

    def as_dict(self) -> dict[str, Any]:
        """For the conversation's event log and the console: codes and numbers only."""
        return {"level": self.level, "categories": list(self.categories),
                "scores": {c: round(p, 3) for c, p in self.scores.items()}, "reasons": list(self.reasons)}


class RiskAssessor:
    def __init__(self, model: RiskModel | None, lexicon: Lexicon) -> None:
        self.model = model
        self.lexicon = lexicon
        self.thresholds = (model.thresholds if model and model.thresholds else DEFAULT_THRESHOLDS)

    def assess(self, text: str, context: Sequence[str] = (), carried: RiskContext | None = None,
               intent: str | None = None) -> Assessment:
        carried = carried or RiskContext()
        text = text or ""
        reasons: list[str] = []
        screened = self.lexicon.screen(text)
        scores = self._scores(text, context, screened.categories, reasons)
        minor = carried.minor or is_minor(text) or any(is_minor(c) for c in context)
        if minor and not carried.minor:
            reasons.append("age:under_19")
        levels = {c: self._level(c, p) for c, p in scores.items()}
        for hit in screened.hits:
            if hit.floor:
                levels[hit.category] = risk_max(levels[hit.category], Risk.high.value)
                reasons.append(f"floor:{hit.category}")
        if intent in INTENT_CATEGORIES:
            self._with_intent(INTENT_CATEGORIES[intent], intent, levels, reasons)
        if minor and levels["minor"] not in ALARM_LEVELS and _alarmed_any(levels, ("danger", "exploitation")):
            # An adult's coercion or danger aimed at someone who said they are under 19 is exploitation
            # of a minor: 117/1388 and the youth wording, not only the adult's numbers.
            levels["minor"] = Risk.high.value
            reasons.append("minor:with_danger_or_exploitation")
        categories = tuple(c for c in CATEGORIES if levels[c] in ALARM_LEVELS)
        level = Risk.none.value
        for lv in levels.values():
            level = risk_max(level, lv)
        new_context = RiskContext(minor=minor, alarmed=tuple(dict.fromkeys([*carried.alarmed, *categories])))
        return Assessment(level, categories, {c: float(p) for c, p in scores.items()}, tuple(reasons),
                          new_context, previous=carried.alarmed)

    def _scores(self, text: str, context: Sequence[str], lexicon_categories: list[str],
                reasons: list[str]) -> dict[str, float]:
        if self.model is not None and text.strip():
            try:
                w = window(text, context)
                p = self.model.linear_probabilities([w], self.lexicon)[0]
                if self.model.needs_embedding(w, p, bool(lexicon_categories)):
                    p = self.model.blend(p[None, :], e5_embed([w]))[0]
                scores = {c: float(p[k]) for k, c in enumerate(CATEGORIES)}
                reasons += [f"model:{c}" for c, v in scores.items() if v >= self.thresholds["medium"]]
                return scores
            except Exception as exc:  # a broken model must never silence the screen
                log.error("risk model failed (%s); the lexicon decides", type(exc).__name__)
                reasons.append("model:unavailable")
        reasons += [f"lexicon:{c}" for c in lexicon_categories]
        return {c: (0.9 if c in lexicon_categories else 0.0) for c in CATEGORIES}

    def _level(self, category: str, p: float) -> str:
        t = self.thresholds
        if p >= t["critical"]:
            return Risk.critical.value if category in CRITICAL_CATEGORIES else Risk.high.value
        for name in ("high", "medium", "low"):
            if p >= t[name]:
                return name
        return Risk.none.value

    def _with_intent(self, category: str, intent: str, levels: dict[str, str], reasons: list[str]) -> None:
        """NLU agreeing with a category the model rates at least medium lifts it to high; alone it lifts
        nothing above medium (a misfiled idiom must not page a counsellor)."""
        if levels[category] == Risk.medium.value:
            levels[category] = Risk.high.value
        else:
            levels[category] = risk_max(levels[category], Risk.low.value)
        reasons.append(f"intent:{intent}")


def _alarmed_any(levels: dict[str, str], categories: Sequence[str]) -> bool:
    return any(levels[c] in ALARM_LEVELS for c in categories)


def model_path(models_dir: Path) -> Path:
    return models_dir / "risk-model.joblib"


@lru_cache(maxsize=2)
def default_assessor(models_dir: Path) -> RiskAssessor:
    """The process-wide assessor: the trained model (built by `make`), or the lexicon alone."""
    path = model_path(models_dir)
    model = None
    try:
        model = RiskModel.load(path)
    except FileNotFoundError:
        log.error("no risk model at %s (run `make setup` or `python -m assistant.safety.risk.train`): "
                  "the lexicon alone decides", path)
    except Exception as exc:
        log.error("risk model at %s unreadable (%s): the lexicon alone decides", path, type(exc).__name__)
    return RiskAssessor(model, default_lexicon())
