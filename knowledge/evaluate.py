"""Retrieval quality on questions written the way victims write: recall@1, recall@3 and MRR."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from knowledge.index import KnowledgeIndex


@dataclass(frozen=True)
class EvalResult:
    questions: int
    recall_at_1: float
    recall_at_3: float
    mrr: float
    misses: tuple[str, ...]  # questions with no right article in the top 3

    def as_dict(self) -> dict:
        return {"questions": self.questions, "recall@1": round(self.recall_at_1, 4),
                "recall@3": round(self.recall_at_3, 4), "mrr": round(self.mrr, 4)}


def load_questions(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for i, row in enumerate(rows, start=1):
        if not isinstance(row.get("q"), str) or not row.get("ids"):
            raise ValueError(f"{path}:{i}: each line needs 'q' and 'ids'")
    return rows


def evaluate(index: KnowledgeIndex, questions: list[dict], mode: str = "hybrid", depth: int = 10) -> EvalResult:
    r1 = r3 = rr = 0.0
    misses = []
    for row in questions:
        ranked = [h.article.id for h in index.search(row["q"], k=depth, mode=mode)]
        good = set(row["ids"])
        first = next((i for i, aid in enumerate(ranked) if aid in good), None)
        r1 += first == 0
        r3 += first is not None and first < 3
        rr += 1.0 / (first + 1) if first is not None else 0.0
        if first is None or first >= 3:
            misses.append(row["q"])
    n = len(questions)
    return EvalResult(n, r1 / n, r3 / n, rr / n, tuple(misses))
