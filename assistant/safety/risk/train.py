"""Train the risk model → models/risk-model.joblib (not committed; `make` builds it when its inputs change).

    .venv/bin/python -m assistant.safety.risk.train [--force] [--extra FILE ...]

Level bars are set on held-out writers: the writers are split in two halves, each half is scored by a
model trained on the other, and the bars are read off those scores at fixed false-alarm rates on the
ordinary messages (a mix of the writers' hard look-alikes and real benchmark text, see `bars`). Then the
model is fitted on everything. The held-out figures are printed and kept in the model (`report`); they are
a regression check, not the headline: that is a blind set written after the model is frozen (README).
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from assistant.core.settings import get_settings
from assistant.core.vectors import cached_vectors
from assistant.safety.risk.assess import model_path
from assistant.safety.risk.data import Item, label_matrix, training_files, training_items
from assistant.safety.risk.model import EMBED_CHARS, RiskModel, e5_embed, fingerprint, is_mostly_hangul
from assistant.safety.risk.text import CATEGORIES
from assistant.safety.screen import LEXICON_PATH, Lexicon

HERE = Path(__file__).resolve().parent
CODE = [HERE / "model.py", HERE / "text.py", HERE / "train.py", HERE / "data.py", LEXICON_PATH]
# False-alarm rates the level bars are set at, on ordinary messages weighted HARD_SHARE hard look-alikes
# (writers' []) to the rest real text (benchmarks): a blind ordinary set has about that mix.
BAR_FALSE_ALARMS = {"critical": 0.005, "high": 0.03, "medium": 0.1, "low": 0.25}
HARD_SHARE = 0.4
# The embedding pass may skip at most this share of the held-out crises the blend alarms (see `gate`).
GATE_MISS = 0.005
# The network learns from the writers' items and this many benchmark lines (embedding every benchmark line
# would cost minutes at each `make setup` for little: the linear model reads them all).
EMBEDDED_BENCHMARK_LINES = 1000


def embeddings(windows: list[str], cache: Path) -> np.ndarray:
    """e5 vectors, cached by text hash: a retrain embeds only what changed."""
    return cached_vectors([w[-EMBED_CHARS:] for w in windows], e5_embed, cache)  # what e5 reads


def selected_for_embedding(items: list[Item]) -> np.ndarray:
    """Every writer's item and the first EMBEDDED_BENCHMARK_LINES benchmark lines (crises among them)."""
    out, bench = [], 0
    for i in items:
        take = i.group != "benchmarks" or bench < EMBEDDED_BENCHMARK_LINES
        bench += i.group == "benchmarks"
        out.append(take)
    return np.array(out, dtype=bool)


def halves(items: list[Item]) -> np.ndarray:
    """0/1 per item: writers alternate between halves; other sources split by id hash."""
    writers = sorted({i.group for i in items if i.group != "benchmarks"})
    side = {w: n % 2 for n, w in enumerate(writers)}
    return np.array([side[i.group] if i.group in side else int(hashlib.sha1(i.id.encode()).hexdigest(), 16) % 2
                     for i in items])


def bars(top: np.ndarray, hard: np.ndarray, easy: np.ndarray) -> dict[str, float]:
    """The lowest bar whose mixed false-alarm rate stays at or under each target."""
    out = {}
    candidates = np.unique(np.concatenate([top, [1.0]]))
    for level, target in BAR_FALSE_ALARMS.items():
        for t in candidates:
            rate = HARD_SHARE * (top[hard] >= t).mean() + (1 - HARD_SHARE) * (top[easy] >= t).mean()
            if rate <= target:
                out[level] = float(t)
                break
    ordered = ["low", "medium", "high", "critical"]  # each bar at least the one below it
    for lo, hi in zip(ordered, ordered[1:], strict=False):
        out[hi] = max(out[hi], out[lo])
    return out


def gate(linear_top: np.ndarray, blended_top: np.ndarray, crisis: np.ndarray, korean: np.ndarray,
         high: float) -> float:
    """The highest first-pass bar under which at most GATE_MISS of the held-out Korean crises that the
    blend alarms would have had a linear score (their top category) below it, i.e. never embedded."""
    caught = crisis & korean & (blended_top >= high)
    if not caught.any():
        return 0.0
    return float(np.quantile(linear_top[caught], GATE_MISS, method="lower"))


def held_out_report(p: np.ndarray, y: np.ndarray, items: list[Item], t: dict[str, float]) -> dict[str, Any]:
    crisis = np.asarray(y.any(1), dtype=bool)
    hard = np.array([i.group != "benchmarks" for i in items]) & ~crisis
    easy = np.array([i.group == "benchmarks" for i in items]) & ~crisis
    alarm = p.max(1) >= t["high"]
    report: dict[str, Any] = {"crisis": int(crisis.sum()), "ordinary_hard": int(hard.sum()),
                              "ordinary_real": int(easy.sum()),
                              "any_crisis_alarmed": round(float(alarm[crisis].mean()), 3),
                              "false_alarms_hard": round(float(alarm[hard].mean()), 3),
                              "false_alarms_real": round(float(alarm[easy].mean()), 4), "per_category": {}}
    for k, c in enumerate(CATEGORIES):
        m = y[:, k] == 1
        report["per_category"][c] = {"n": int(m.sum()), "right": round(float((p[m, k] >= t["high"]).mean()), 3)}
    return report


def train(force: bool = False, extra: list[Path] | None = None, quiet: bool = False) -> Path:
    settings = get_settings()
    path = model_path(settings.models_dir)
    files = [f for f in [*training_files(), *(extra or [])] if f.exists()]
    fp = fingerprint([*files, *CODE])
    if path.exists() and not force:
        try:
            if RiskModel.load(path).fingerprint == fp:
                if not quiet:
                    print(f"risk model is current: {path}")
                return path
        except Exception:  # unreadable (another scikit-learn): rebuild
            pass
    started = time.perf_counter()
    items = training_items(extra=extra)
    windows = [i.window for i in items]
    y = label_matrix(items)
    lexicon = Lexicon.load()
    embedded = selected_for_embedding(items)
    emb = np.zeros((len(items), 384), dtype=np.float32)
    emb[embedded] = embeddings([w for w, e in zip(windows, embedded, strict=True) if e],
                               settings.models_dir / "cache" / "risk-embeddings.npz")
    side = halves(items)
    # Held-out scores for the embedded items (every writer's, and the benchmark sample): each half is
    # scored by a model fitted on the other.
    p = np.zeros(y.shape)
    p_linear = np.zeros(y.shape)
    for half in (0, 1):
        train_idx = np.where(side != half)[0]
        test_idx = np.where((side == half) & embedded)[0]
        model = RiskModel.fit([windows[i] for i in train_idx], y[train_idx], emb[train_idx][embedded[train_idx]],
                              lexicon, embedded[train_idx])
        p_linear[test_idx] = model.linear_probabilities([windows[i] for i in test_idx], lexicon)
        p[test_idx] = model.blend(p_linear[test_idx], emb[test_idx])
    scored = embedded
    crisis = np.asarray(y.any(1), dtype=bool)
    from_writers = np.array([i.group != "benchmarks" for i in items])
    thresholds = bars(p[scored].max(1), (from_writers & ~crisis)[scored], (~from_writers & ~crisis)[scored])
    report = held_out_report(p[scored], y[scored], [i for i, s in zip(items, scored, strict=True) if s], thresholds)
    np.savez(path.with_name("held-out.npz"), p=p[scored], y=y[scored],  # for choosing bars: codes, no text
             writers=from_writers[scored])
    korean = np.array([is_mostly_hangul(w) for w in windows])
    first_pass = gate(p_linear[scored].max(1), p[scored].max(1), crisis[scored], korean[scored], thresholds["high"])
    ordinary_skipped = (~crisis & korean)[scored] & (p_linear[scored].max(1) < first_pass)
    report["gate"] = {"bar": round(first_pass, 4), "ordinary_not_embedded": round(
        float(ordinary_skipped.sum() / max(1, (~crisis)[scored].sum())), 3)}
    model = RiskModel.fit(windows, y, emb[embedded], lexicon, embedded)
    model.thresholds, model.gate, model.fingerprint = thresholds, first_pass, fp
    model.report = {**report, "items": len(items), "seconds": round(time.perf_counter() - started, 1)}
    model.save(path)
    if not quiet:
        print(f"risk model: {len(items)} items ({int(crisis.sum())} crisis) in "
              f"{model.report['seconds']} s → {path}\n  bars {thresholds}\n  held-out writers {report}")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m assistant.safety.risk.train")
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--extra", type=Path, nargs="*", help="more labelled JSONL (e.g. exported corrections)")
    args = ap.parse_args(argv)
    train(force=args.force, extra=args.extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
