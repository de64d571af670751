"""Knowledge retrieval at the centre's size (the real articles) and at 5,000 articles, against a
plain BM25-only baseline run in the same process: recall@3 on the eval questions, p50/p95 query
latency, and full reindex time.

The large set is the real articles plus generated ones. Generated articles are built from real
Korean comments (../shared/benchmarks), so they are realistic text on other subjects: they test
whether the right article is still found among thousands of others, and what the index costs.
"""
from __future__ import annotations

import dataclasses
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from assistant.core.settings import get_settings
from knowledge import index as kb_index
from knowledge.evaluate import load_questions

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "knowledge" / "eval" / "questions.jsonl"


def _generated_article(i: int, lines: list[str], rng: random.Random) -> str:
    picked = rng.sample(lines, 12)
    title = picked[0][:40].replace(":", " ").replace('"', " ").strip() or f"문서 {i}"
    questions = "\n".join(f"  - \"{q[:60].replace(chr(34), ' ')}\"" for q in picked[1:6])
    body = " ".join(picked[6:]) + "\n\n## 자세히\n- " + "\n- ".join(picked[6:9])
    return (f"---\nid: gen-{i:05d}\ntitle: \"{title}\"\ncategory: centre\naudience: all\nquestions:\n{questions}\n"
            f"sources:\n  - title: generated\n    url: \"\"\nreviewed_at: 2026-11-25\nstatus: published\n---\n{body}\n")


def _make_corpus(target: Path, total: int, lines: list[str]) -> None:
    """Copy the real articles into `target` and add generated ones up to `total` files."""
    real = sorted((ROOT / "knowledge" / "articles").glob("*.md"))
    target.mkdir(parents=True)
    for p in real:
        shutil.copy(p, target / p.name)
    rng = random.Random(7)
    usable = [line.strip() for line in lines if 10 <= len(line.strip()) <= 200]
    for i in range(max(0, total - len(real))):
        (target / f"gen-{i:05d}.md").write_text(_generated_article(i, usable, rng), encoding="utf-8")


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * (len(s) - 1)))]


def _measure(index: kb_index.KnowledgeIndex, questions: list[dict], mode: str) -> dict:
    index.search(questions[0]["q"], mode=mode)  # the first query pays one-off loading costs
    times, hits = [], 0
    for row in questions:
        t0 = time.perf_counter()
        ranked = [h.article.id for h in index.search(row["q"], k=3, mode=mode)]
        times.append(time.perf_counter() - t0)
        hits += any(a in row["ids"] for a in ranked)
    return {"recall@3": hits / len(questions), "p50_ms": statistics.median(times) * 1000,
            "p95_ms": _pct(times, 0.95) * 1000}


def bench_scale(sizes: tuple[int, ...], lines: list[str]) -> None:
    questions = load_questions(QUESTIONS)
    base = get_settings()
    print(f"knowledge retrieval ({base.embeddings} vectors + BM25, fused) vs BM25 only, "
          f"{len(questions)} eval questions")
    print("  articles | docs   | reindex full / BM25-only | recall@3 hybrid / BM25 | p50 ms hybrid / BM25 "
          "| p95 ms hybrid / BM25")
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            t = Path(tmp)
            _make_corpus(t / "articles", size, lines)
            settings = dataclasses.replace(base, knowledge_dir=t / "articles", chroma_dir=t / "chroma",
                                           index_dir=t / "index")
            t0 = time.perf_counter()
            docs = kb_index.build(settings)
            full = time.perf_counter() - t0
            articles = kb_index.load_articles(settings.knowledge_dir)  # published ones: what is indexed
            n = len(articles)
            t0 = time.perf_counter()
            kb_index._write_lexical(settings, articles, kb_index.documents(articles), t / "lexical-only")
            lexical = time.perf_counter() - t0
            index = kb_index.KnowledgeIndex(settings)
            hybrid, bm25 = _measure(index, questions, "hybrid"), _measure(index, questions, "bm25")
            print(f"  {n:8,} | {docs:6,} | {full:7.1f} s / {lexical:5.1f} s ({full / lexical:.0f}x) "
                  f"| {hybrid['recall@3']:.3f} / {bm25['recall@3']:.3f} "
                  f"| {hybrid['p50_ms']:6.1f} / {bm25['p50_ms']:5.1f} ({hybrid['p50_ms'] / bm25['p50_ms']:.1f}x) "
                  f"| {hybrid['p95_ms']:6.1f} / {bm25['p95_ms']:5.1f}", flush=True)
