"""The lexicon/rule layer: `lexicon.yml` (staff-editable) → hits with spans in the original text.

`RuleBook.current()` re-reads the file when its mtime changes; an invalid edit raises nothing at
classification time: the error is logged and kept in `last_error`, and the previous rules stay.
`load_lexicon(path)` raises `LexiconError` with a message naming the file and the rule.
"""
from __future__ import annotations

import logging
import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from assistant.safety.youth_cues import age_of
from detection.classifier.normalise import Normalised, normalise

log = logging.getLogger(__name__)

LEXICON_PATH = Path(__file__).with_name("lexicon.yml")
RULE_CATEGORIES = ("outcall", "venue", "recruit", "youth", "act", "context_none")
CONTACT_KINDS = ("phone", "kakao", "openchat", "telegram", "line", "link")
INDICATOR_KINDS = ("price", "age")
CHECK_EVERY = 1.0  # seconds between mtime checks (a stat per post would cost 10 % of throughput)


class LexiconError(ValueError):
    """The lexicon file cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    weight: float
    terms: tuple[str, ...]
    regex: tuple[re.Pattern, ...]


@dataclass
class Hit:
    rule: str
    category: str
    weight: float
    span: tuple[int, int]  # in the original text
    text: str              # the original text of the span


@dataclass
class RuleResult:
    hits: list[Hit] = field(default_factory=list)
    indicators: dict[str, list[dict]] = field(default_factory=dict)
    _weights: dict[str, float] | None = field(default=None, repr=False)  # filled on first weight()

    def weight(self, category: str) -> float:
        if self._weights is None:
            # One rule counts at most twice, so a repeated word cannot outweigh the rest of the post.
            per_rule: dict[tuple[str, str], list[float]] = {}
            for h in self.hits:
                per_rule.setdefault((h.category, h.rule), []).append(h.weight)
            self._weights = {}
            for (cat, _), ws in per_rule.items():
                self._weights[cat] = self._weights.get(cat, 0.0) + sum(sorted(ws, reverse=True)[:2])
        return self._weights.get(category, 0.0)

    @property
    def minor_age(self) -> bool:
        return any(a.get("minor") for a in self.indicators.get("age", []))

    def features(self) -> list[float]:
        """Fixed-length numbers for the model: the rule layer's opinion, one column per signal."""
        ind = self.indicators
        return [math.log1p(self.weight(c)) for c in RULE_CATEGORIES] + [
            math.log1p(len(ind.get("price", []))), math.log1p(len(ind.get("contacts", []))),
            1.0 if self.minor_age else 0.0]


@dataclass
class Lexicon:
    rules: list[Rule]
    indicators: dict[str, list[re.Pattern]]
    contacts: dict[str, list[re.Pattern]]
    term_index: dict[str, list[str]]  # first two characters → terms, longest first
    term_rules: dict[str, list[Rule]]

    def apply(self, norm: Normalised) -> RuleResult:
        res = RuleResult()
        comp = norm.compact
        orig = norm.original

        def add(rule: Rule, s: int, e: int) -> None:
            os_, oe = comp.span(s, e)
            res.hits.append(Hit(rule.id, rule.category, rule.weight, (os_, oe), orig[os_:oe]))

        text, index = comp.text, self.term_index
        for i, cands in enumerate(map(index.get, [text[i:i + 2] for i in range(len(text))])):
            if cands:
                for term in cands:
                    if text.startswith(term, i):
                        for rule in self.term_rules[term]:
                            add(rule, i, i + len(term))
        for rule in self.rules:
            for rx in rule.regex:
                for m in rx.finditer(comp.text):
                    if m.end() > m.start():
                        add(rule, m.start(), m.end())
        light = norm.light
        for kind, pats in self.indicators.items():
            found = _find(pats, light, orig)
            if kind == "age":
                for f in found:
                    a = age_of(f["text"])
                    f["minor"] = (a is not None and a < 19) or f["value"] in MINOR_WORDS \
                        or bool(re.fullmatch(r"[중고][1-3]", f["value"]))
            res.indicators[kind] = found
        contacts: list[dict] = []
        taken: list[tuple[int, int]] = []
        for kind, pats in self.contacts.items():
            for f in _find(pats, light, orig):
                s, e = f["span"]
                if any(s < te and ts < e for ts, te in taken):
                    continue  # one handle, one kind: a t.me link is not also a bare link
                taken.append((s, e))
                contacts.append({"kind": kind, **f})
        res.indicators["contacts"] = sorted(contacts, key=lambda c: c["span"][0])
        res.indicators["act"] = [{"value": h.text, "span": list(h.span)} for h in res.hits if h.category == "act"]
        return res


MINOR_WORDS = {"민짜", "고딩", "중딩", "여고생", "여중생", "미자", "미성년", "교복", "중학생", "고등학생"}


def _find(pats: list[re.Pattern], light: Any, orig: str) -> list[dict]:
    out: list[dict] = []
    seen: set[tuple[int, int]] = set()
    for rx in pats:
        for m in rx.finditer(light.text):
            g = "v" if "v" in rx.groupindex else 0
            s, e = m.span(g)
            if e <= s:
                continue
            os_, oe = light.span(s, e)
            if (os_, oe) in seen:
                continue
            seen.add((os_, oe))
            ms, me = light.span(*m.span(0))
            out.append({"value": m.group(g), "span": [os_, oe], "text": orig[ms:me]})
    return out


def _compile(rx: Any, where: str) -> re.Pattern:
    if not isinstance(rx, str) or not rx:
        raise LexiconError(f"{where}: a regular expression must be a non-empty string, got {rx!r}")
    try:
        return re.compile(rx)
    except re.error as e:
        raise LexiconError(f"{where}: invalid regular expression {rx!r}: {e}") from None


def parse_lexicon(data: Any, source: str = "lexicon") -> Lexicon:
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise LexiconError(f"{source}: expected a mapping with a 'rules' list")
    rules: list[Rule] = []
    ids: set[str] = set()
    for i, r in enumerate(data["rules"]):
        where = f"{source}: rule #{i + 1}" + (f" ({r.get('id')})" if isinstance(r, dict) and r.get("id") else "")
        if not isinstance(r, dict):
            raise LexiconError(f"{where}: must be a mapping with id, category, weight, terms")
        unknown = set(r) - {"id", "category", "weight", "terms", "regex"}
        if unknown:
            raise LexiconError(f"{where}: unknown key(s) {sorted(unknown)}")
        rid = r.get("id")
        if not isinstance(rid, str) or not rid.strip():
            raise LexiconError(f"{where}: 'id' is missing")
        if rid in ids:
            raise LexiconError(f"{where}: duplicate id {rid!r}")
        ids.add(rid)
        if r.get("category") not in RULE_CATEGORIES:
            raise LexiconError(f"{where}: category {r.get('category')!r} is not one of {', '.join(RULE_CATEGORIES)}")
        w = r.get("weight", 1)
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 < w <= 10:
            raise LexiconError(f"{where}: weight must be a number in (0, 10], got {w!r}")
        terms = r.get("terms") or []
        regex = r.get("regex") or []
        if not isinstance(terms, list) or not isinstance(regex, list) or not (terms or regex):
            raise LexiconError(f"{where}: needs a non-empty 'terms' and/or 'regex' list")
        norm_terms = []
        for t in terms:
            if not isinstance(t, (str, int)) or not str(t).strip():
                raise LexiconError(f"{where}: term {t!r} must be non-empty text")
            c = normalise(str(t)).compact.text
            if len(c) < 2:
                raise LexiconError(f"{where}: term {t!r} is too short: "
                                   "at least two letters or digits after normalising")
            norm_terms.append(c)
        rules.append(Rule(rid, r["category"], float(w), tuple(norm_terms),
                          tuple(_compile(x, f"{where} regex") for x in regex)))
    ind = data.get("indicators") or {}
    if not isinstance(ind, dict):
        raise LexiconError(f"{source}: 'indicators' must be a mapping")
    indicators = {k: [_compile(x, f"{source}: indicators.{k}") for x in (ind.get(k) or [])] for k in INDICATOR_KINDS}
    raw_contacts = ind.get("contacts") or {}
    if not isinstance(raw_contacts, dict) or set(raw_contacts) - set(CONTACT_KINDS):
        raise LexiconError(f"{source}: indicators.contacts keys must be among {', '.join(CONTACT_KINDS)}")
    contacts = {k: [_compile(x, f"{source}: indicators.contacts.{k}") for x in (raw_contacts.get(k) or [])]
                for k in CONTACT_KINDS}
    term_rules: dict[str, list[Rule]] = {}
    for rule in rules:
        for t in rule.terms:
            term_rules.setdefault(t, []).append(rule)
    # Terms indexed by their first two characters: one dict look-up per position of the text finds
    # every term, overlapping ones too (a regex alternation of hundreds of terms was 5x slower).
    index: dict[str, list[str]] = {}
    for t in sorted(term_rules, key=len, reverse=True):
        index.setdefault(t[:2], []).append(t)
    return Lexicon(rules, indicators, contacts, index, term_rules)


def load_lexicon(path: Path = LEXICON_PATH) -> Lexicon:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise LexiconError(f"{path}: not valid YAML: {e}") from None
    except OSError as e:
        raise LexiconError(f"{path}: cannot read: {e}") from None
    return parse_lexicon(data, str(path))


class RuleBook:
    """The current lexicon, reloaded when the file's mtime changes; bad edits keep the old rules."""

    def __init__(self, path: Path = LEXICON_PATH) -> None:
        self.path = Path(path)
        self.lexicon = load_lexicon(self.path)  # the first load must succeed
        self.mtime = self._mtime()
        self.last_error: str | None = None
        self.checked = time.monotonic()

    def _mtime(self) -> float:
        try:
            return os.stat(self.path).st_mtime_ns
        except OSError:
            return -1

    def current(self) -> Lexicon:
        now = time.monotonic()
        if now - self.checked < CHECK_EVERY:
            return self.lexicon
        self.checked = now
        m = self._mtime()
        if m != self.mtime:
            self.mtime = m
            try:
                self.lexicon = load_lexicon(self.path)
                self.last_error = None
                log.info("detection lexicon reloaded from %s", self.path)
            except LexiconError as e:
                self.last_error = str(e)
                log.error("detection lexicon NOT reloaded, keeping the previous rules: %s", e)
        return self.lexicon

    def apply(self, norm: Normalised) -> RuleResult:
        return self.current().apply(norm)


RULE_BIAS = 4.5  # evidence at which the rule layer alone says 50 %: e.g. one strong term + a contact


def rule_score(rr: RuleResult) -> float:
    """The rule layer's own probability that the post is an ad (a logistic of weighed evidence)."""
    ind = rr.indicators
    evidence = (rr.weight("outcall") + rr.weight("venue") + rr.weight("recruit")
                + 0.5 * (rr.weight("youth") + rr.weight("act"))
                + (1.5 if ind.get("contacts") else 0.0) + (1.0 if ind.get("price") else 0.0)
                - 2.0 * rr.weight("context_none"))
    return 1.0 / (1.0 + math.exp(-(evidence - RULE_BIAS)))
