"""Detection speed: `python -m bench detection [--million]` (also part of `make bench`).

1. classify over every real comment in ../shared/benchmarks, one process, with the embedding second pass
   and text only (first pass) side by side, against a plain keyword-substring scan of the lexicon's terms;
   then the hand-written ad-heavy posts (detection/data/writers), where most posts take the second pass.
2. OCR images/s on banners rendered here (Pillow + NanumGothic).
3. Peak memory: tracemalloc peak of the classify pass (Python allocations) and the process max RSS.
4. --million: 1,000,000 posts (the comments, cycled) end to end through `dasi detect classify`.
"""
from __future__ import annotations

import io
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
FONT = Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf")


def _keywords() -> list[str]:
    data = yaml.safe_load((ROOT / "detection" / "classifier" / "lexicon.yml").read_text(encoding="utf-8"))
    return sorted({str(t) for r in data["rules"] if r["category"] != "context_none" for t in r.get("terms", [])})


def _rate(clf, texts: list[str]) -> tuple[float, float, int]:
    """posts/s by wall clock and per CPU-second (a shared machine's wall time undercounts a core), ads."""
    t0, c0 = time.perf_counter(), time.process_time()
    flagged = sum(v.category != "none" for v in clf.classify_many(texts))
    return len(texts) / (time.perf_counter() - t0), len(texts) / (time.process_time() - c0), flagged


def bench_classify(comments: list[str]) -> None:
    import copy

    from detection.classifier.classify import Classifier

    clf = Classifier.load()
    clf.classify("강남 출장 안마 카톡 문의")  # loads the embedding model too
    text_only = copy.copy(clf)
    text_only.second = None  # the first pass alone: rules + character n-grams
    kws = _keywords()
    t0 = time.perf_counter()
    base_hits = sum(1 for c in comments if any(k in c.replace(" ", "") for k in kws))
    base = len(comments) / (time.perf_counter() - t0)
    wall, cpu, flagged = _rate(clf, comments)
    t_wall, t_cpu, t_flagged = _rate(text_only, comments)
    print(f"detection classify, {len(comments):,} real comments, 1 process: with embeddings {wall:,.0f} posts/s "
          f"({cpu:,.0f} per CPU-second; target 1,500), text only {t_wall:,.0f} posts/s ({t_cpu:,.0f}); "
          f"baseline keyword scan ({len(kws)} terms) {base:,.0f} posts/s; embeddings cost {t_wall / wall:.1f}x")
    posts = [json.loads(line)["text"] for path in sorted((ROOT / "detection" / "data" / "writers").glob("*.jsonl"))
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    p_wall, p_cpu, p_flagged = _rate(clf, posts)
    print(f"  ad-heavy posts ({len(posts):,} hand-written, {p_flagged} flagged): with embeddings {p_wall:,.0f} "
          f"posts/s ({p_cpu:,.0f} per CPU-second)")
    print(f"  flagged as ads on the ad-free corpus: with embeddings {flagged} ({flagged / len(comments):.2%}), "
          f"text only {t_flagged} ({t_flagged / len(comments):.2%}), keyword baseline {base_hits} "
          f"({base_hits / len(comments):.2%})")
    tracemalloc.start()
    for c in comments[:5000]:
        clf.classify(c)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak memory: classify pass {peak / 2**20:.1f} MiB (tracemalloc), process max RSS {rss:.0f} MiB "
          f"(model, lexicon, scikit-learn, embedding model loaded)")


def bench_ocr(n: int = 6) -> None:
    if not FONT.exists():
        print("OCR: NanumGothic not found, skipped")
        return
    from PIL import Image, ImageDraw, ImageFont

    from detection.classifier.ocr import ocr_image

    font = ImageFont.truetype(str(FONT), 28)
    images = []
    for i in range(n):
        img = Image.new("RGB", (640, 60), "white")
        ImageDraw.Draw(img).text((10, 14), f"강남 출장안마 24시 후불 카톡 mimi{i}", font=font, fill="black")
        b = io.BytesIO()
        img.save(b, "PNG")
        images.append(b.getvalue())
    ocr_image(images[0])  # warm-up: Tesseract loads its language data
    t0 = time.perf_counter()
    ok = sum("안마" in ocr_image(b) for b in images)
    dt = time.perf_counter() - t0
    print(f"OCR: {n / dt:.2f} images/s (640x60 banners, kor+eng, 1 core); key word read in {ok}/{n}")


def bench_million(comments: list[str], total: int = 1_000_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "million.jsonl"
        with src.open("w", encoding="utf-8") as f:
            for i in range(total):
                f.write(json.dumps({"id": i, "text": comments[i % len(comments)]}, ensure_ascii=False) + "\n")
        t0 = time.perf_counter()
        with open(Path(tmp) / "out.jsonl", "w") as out:
            p = subprocess.run([str(ROOT / ".venv" / "bin" / "dasi"), "detect", "classify", str(src)], stdout=out,
                               stderr=subprocess.PIPE, text=True)
        dt = time.perf_counter() - t0
        lines = sum(1 for _ in open(Path(tmp) / "out.jsonl", encoding="utf-8"))
    print(f"1M end to end: {total:,} posts through `dasi detect classify` in {dt:.0f} s "
          f"({total / dt:,.0f} posts/s, 1 process), {lines:,} output lines, exit {p.returncode}")


def main(argv: list[str] | None = None) -> int:
    from detection.classifier.evaluate import benchmark_comments

    argv = sys.argv[1:] if argv is None else argv
    comments = benchmark_comments()
    if not comments:
        print("detection: ../shared/benchmarks not found, skipped")
        return 0
    bench_classify(comments)
    if "--no-ocr" not in argv:
        bench_ocr()
    if "--million" in argv:
        bench_million(comments)
    return 0


if __name__ == "__main__":
    sys.exit(main())
