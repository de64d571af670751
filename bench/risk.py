"""The risk assessment's cost per message, beside the lexicon alone in the same run (`make bench`).

Real Korean comments (../shared/benchmarks, never trained on) and, for context, each message read with
the three before it. Target: p95 ≤ 25 ms per message on the project's 2-core machine. Beside it, in the
same run, the same assessor embedding every message (no first-pass gate): what the gate saves.
"""
from __future__ import annotations

import copy
import statistics
import time

from assistant.core.settings import get_settings
from assistant.safety.risk.assess import RiskAssessor, default_assessor
from assistant.safety.screen import default_lexicon


def _p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))]


def bench_risk(lines: list[str], n: int = 400) -> None:
    assessor = default_assessor(get_settings().models_dir)
    if assessor.model is None:
        print("risk assessment: no model (run `make setup`), skipped")
        return
    lexicon = default_lexicon()
    sample = [line for line in lines if line.strip()][:n]
    ungated = copy.copy(assessor.model)
    ungated.gate = 0.0
    always = RiskAssessor(ungated, assessor.lexicon)
    assessor.assess("안녕하세요")  # load the tokenizer and the embedding model first
    always.assess("안녕하세요")
    lex, alone, with_context, embedded = [], [], [], []
    for i, text in enumerate(sample):
        t0 = time.perf_counter()
        lexicon.screen(text)
        lex.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        assessor.assess(text)
        alone.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        assessor.assess(text, sample[max(0, i - 3):i])
        with_context.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        always.assess(text)
        embedded.append(time.perf_counter() - t0)
    ms = 1000
    print(f"risk assessment, {len(sample)} real comments: p50 {statistics.median(alone) * ms:.1f} ms, "
          f"p95 {_p95(alone) * ms:.1f} ms (with 3 earlier messages: p95 {_p95(with_context) * ms:.1f} ms); "
          f"lexicon alone p50 {statistics.median(lex) * ms:.2f} ms, p95 {_p95(lex) * ms:.2f} ms; "
          f"ratio {statistics.median(alone) / statistics.median(lex):.0f}x the lexicon's median")
    print(f"  first-pass gate at {assessor.model.gate:.3f}: embedding every message instead p50 "
          f"{statistics.median(embedded) * ms:.1f} ms, p95 {_p95(embedded) * ms:.1f} ms "
          f"(gated p95 / ungated p95 = {_p95(alone) / _p95(embedded):.2f})")
