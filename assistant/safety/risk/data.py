"""The labelled messages the risk model learns from (assistant/safety/data; its README says who wrote what).

Each item: {"id", "context": [earlier messages], "text", "categories": [...], "lang"?} — the categories of
the last message as read with the earlier ones; [] is an ordinary message; "lang" when not Korean.
Writers' files are grouped by writer, so the model's own figures can hold whole writers out (text from
hands it has not seen).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.safety.risk.text import CATEGORIES, window

DATA = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True)
class Item:
    id: str
    text: str
    context: tuple[str, ...]
    categories: tuple[str, ...]
    group: str  # the writer (or source) it came from
    lang: str = "ko"  # the language it is written in (the multilingual writers' files say; else Korean)

    @property
    def window(self) -> str:
        return window(self.text, self.context)


def read(path: Path, group: str | None = None) -> list[Item]:
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        raw = json.loads(line)
        cats = raw.get("categories")
        if cats is None:  # the earlier sets: {"text", "category"?}
            cats = [raw["category"]] if raw.get("category") else []
        unknown = set(cats) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"{path}:{n}: unknown categories {sorted(unknown)}")
        items.append(Item(str(raw.get("id") or f"{path.stem}-{n}"), str(raw["text"]),
                          tuple(str(c) for c in raw.get("context") or ()),
                          tuple(c for c in CATEGORIES if c in cats), group or path.stem.split("_")[0],
                          str(raw.get("lang") or "ko")))
    return items


def training_files(data: Path = DATA) -> list[Path]:
    """Writers' files, the earlier sets (the lexicon's, written before this model), the labelled benchmark
    sample, then blind sets already reported (they join the training data once their figure is published)."""
    return [*sorted((data / "writers").glob("*.jsonl")), *sorted((data / "earlier").glob("*.jsonl")),
            data / "benchmarks.jsonl", *sorted((data / "reported").glob("*.jsonl"))]


def training_items(data: Path = DATA, extra: list[Path] | None = None) -> list[Item]:
    items: list[Item] = []
    for path in [*training_files(data), *(extra or [])]:
        if path.exists():
            group = "benchmarks" if path.name == "benchmarks.jsonl" else f"earlier-{path.stem}" \
                if path.parent.name == "earlier" else None
            items += read(path, group)
    return items


def label_matrix(items: list[Item]) -> np.ndarray:
    return np.array([[c in i.categories for c in CATEGORIES] for i in items], dtype=int).reshape(
        len(items), len(CATEGORIES))
