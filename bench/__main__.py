"""`make bench`: speed figures as ratios against a baseline measured in the same run.

1. Safety screen over real Korean comments (../shared/benchmarks) vs. a plain substring scan of
   the same lexicon: what the normalisation and fuzzy matching cost.
2. Web chat API reply time through the real stack (gateway → Rasa → action server) vs. the
   gateway's own safety-screen reply to self-harm talk (no Rasa), both over HTTP in the same run.
3. Knowledge retrieval at the real articles and at 5,000 (generated) articles vs. BM25 only:
   recall@3, p50/p95 query latency, full reindex time (`--kb-articles N` changes the large size;
   `--no-kb` skips it: with e5 vectors the 5,000-article reindex takes several minutes).
4. Risk assessment (bench/risk.py): p95 per message of the whole assessor vs. the lexicon alone.
5. Casebook (bench/casebook.py): the year's statistics and the 10,000-case list vs. plain SQL, on SQLite
   and PostgreSQL (DASI_BENCH_POSTGRES_URL); `--no-casebook` skips it, `python -m bench casebook` runs only it.
6. Rasa scale (bench/rasa_scale.py): messages/s with two Rasa servers behind the gateway vs one, at the
   same offered load, over PostgreSQL and Redis; `--no-rasa-scale` skips it, `python -m bench rasa-scale`
   runs only it.
7. Load and soak (bench/load.py): web chat p50/p95 under open-loop arrivals, 50 people back to back and a
   soak, each beside bare Rasa REST at the same load; `--no-load` skips it, `python -m bench load [--quick]`
   runs only it.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from assistant.safety.screen import default_lexicon
from bench.common import option, percentile
from tests.stack import Stack

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "benchmarks"


def corpus() -> list[str]:
    lines = []
    for name in ("korean-hate-speech/train.tsv", "korean-hate-speech/dev.tsv"):
        path = CORPUS / name
        if path.exists():
            lines += [line.split("\t")[0] for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    path = CORPUS / "curse-detection/dataset.txt"
    if path.exists():
        lines += [line.rsplit("|", 1)[0] for line in path.read_text(encoding="utf-8").splitlines()]
    return lines


def bench_screen() -> None:
    lines = corpus()
    if not lines:
        print("safety screen: ../shared/benchmarks not found, skipped")
        return
    lex = default_lexicon()
    phrases = [p.text for p in lex.phrases]
    t0 = time.perf_counter()
    base_hits = sum(1 for line in lines if any(p in line.replace(" ", "") for p in phrases))
    base = time.perf_counter() - t0
    t0 = time.perf_counter()
    hits = sum(1 for line in lines if lex.screen(line).alarmed)
    full = time.perf_counter() - t0
    print(f"safety screen, {len(lines)} real comments: {len(lines) / full:,.0f} msg/s; "
          f"baseline substring scan {len(lines) / base:,.0f} msg/s; ratio {full / base:.1f}x the baseline time")
    print(f"  alarms on this non-crisis corpus: screen {hits} ({hits / len(lines):.2%}), baseline {base_hits}")


QUESTIONS = ["안녕하세요", "선불금 꼭 갚아야 돼요?", "센터 어디에 있어요", "경찰 조사 받을 때 같이 가줄 수 있어요?",
             "쉼터에 들어가고 싶어요", "미성년자인데 처벌받나요", "고마워요", "상담사랑 얘기하고 싶어요"]
# Self-harm talk gets the screen's 109 reply alone (the bot is not asked): the no-Rasa baseline.
ALARMS = ["죽고 싶어요", "다 끝내고 싶어", "사라지고 싶어요", "자해했어요"]


def bench_api(rounds: int = 5) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp))
        stack.start()
        try:
            bot, screen = [], []
            for r in range(rounds):
                for i, q in enumerate(QUESTIONS):
                    t0 = time.perf_counter()
                    stack.say(f"bench-bot-{r}-{i}", q)
                    bot.append(time.perf_counter() - t0)
                for i, q in enumerate(ALARMS):
                    t0 = time.perf_counter()
                    stack.say(f"bench-alarm-{r}-{i}", q)
                    screen.append(time.perf_counter() - t0)
        finally:
            stack.stop()
    med_bot, med_screen = statistics.median(bot), statistics.median(screen)
    p95 = percentile(bot, 95)
    print(f"web chat API, {len(bot)} bot replies: median {med_bot * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms; "
          f"baseline (screen reply, no Rasa) median {med_screen * 1000:.0f} ms; ratio {med_bot / med_screen:.1f}x")


def main() -> int:
    if sys.argv[1:2] == ["casebook"]:  # python -m bench casebook [--rounds N]
        from bench.casebook import main as bench_casebook

        return bench_casebook(sys.argv[2:])
    if sys.argv[1:2] == ["rasa-scale"]:  # python -m bench rasa-scale [--messages N] [--rate R]
        from bench.rasa_scale import main as bench_rasa_scale

        return bench_rasa_scale(sys.argv[2:])
    if sys.argv[1:2] == ["load"]:  # python -m bench load [--quick] [--rates 5,10,20] [--soak-seconds 300]
        from bench.load import main as bench_load

        return bench_load(sys.argv[2:])
    if sys.argv[1:2] == ["detection"]:  # python -m bench detection [--million]
        from bench.detection import main as bench_detection

        return bench_detection(sys.argv[2:])
    bench_screen()
    if "--no-risk" not in sys.argv:
        from bench.risk import bench_risk

        bench_risk(corpus())
    if "--no-stack" not in sys.argv:
        bench_api()
    if "--no-kb" not in sys.argv:
        from bench.knowledge_scale import bench_scale

        bench_scale((0, option(sys.argv, "--kb-articles", 5000, int)), corpus())
    if "--no-detection" not in sys.argv:
        from bench.detection import main as bench_detection

        bench_detection(sys.argv[1:])
    if "--no-casebook" not in sys.argv:
        from bench.casebook import main as bench_casebook

        bench_casebook(sys.argv[1:])
    if "--no-rasa-scale" not in sys.argv:
        from bench.rasa_scale import main as bench_rasa_scale

        bench_rasa_scale(sys.argv[1:])
    if "--no-load" not in sys.argv:
        from bench.load import main as bench_load

        bench_load(sys.argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
