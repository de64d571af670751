"""Retrieval quality on questions written the way victims write: recall@1, recall@3 and MRR, and
how often the confidence gate lets a question through — wanted for questions an article answers,
unwanted for those none does (rows with `"ids": []`, e.g. knowledge/eval/unanswerable.jsonl)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from knowledge.index import KnowledgeIndex


@dataclass(frozen=True)
class EvalResult:
    questions: int  # answerable ones
    recall_at_1: float
    recall_at_3: float
    mrr: float
    misses: tuple[str, ...]  # questions with no right article in the top 3
    answered: float  # share of answerable questions whose best match passes the confidence gate
    unanswerable: int
    wrongly_answered: tuple[str, ...]  # unanswerable questions that pass the gate

    def as_dict(self) -> dict:
        out = {"questions": self.questions}
        if self.questions:
            out.update({"recall@1": round(self.recall_at_1, 4), "recall@3": round(self.recall_at_3, 4),
                        "mrr": round(self.mrr, 4), "answered": round(self.answered, 4)})
        if self.unanswerable:
            out.update({"unanswerable": self.unanswerable,
                        "unanswerable_answered": round(len(self.wrongly_answered) / self.unanswerable, 4)})
        return out


def load_questions(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for i, row in enumerate(rows, start=1):
        if not isinstance(row.get("q"), str) or not isinstance(row.get("ids"), list):
            raise ValueError(f"{path}:{i}: each line needs 'q' and 'ids' (a list; empty when no article answers it)")
    return rows


def evaluate(index: KnowledgeIndex, questions: list[dict], mode: str = "hybrid", depth: int = 10,
             threshold: float = 0.0) -> EvalResult:
    r1 = r3 = rr = passed = 0.0
    misses, wrong = [], []
    answerable = [row for row in questions if row["ids"]]
    for row in questions:
        hits = index.search(row["q"], k=depth, mode=mode)
        confident = bool(hits) and max(h.confidence for h in hits) >= threshold
        if not row["ids"]:
            if confident:
                wrong.append(row["q"])
            continue
        passed += confident
        ranked = [h.article.id for h in hits]
        good = set(row["ids"])
        first = next((i for i, aid in enumerate(ranked) if aid in good), None)
        r1 += first == 0
        r3 += first is not None and first < 3
        rr += 1.0 / (first + 1) if first is not None else 0.0
        if first is None or first >= 3:
            misses.append(row["q"])
    n = len(answerable) or 1
    return EvalResult(len(answerable), r1 / n, r3 / n, rr / n, tuple(misses), passed / n,
                      len(questions) - len(answerable), tuple(wrong))
