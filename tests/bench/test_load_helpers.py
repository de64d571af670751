"""The load benchmark's pure helpers: percentiles, the open-loop schedule, memory summaries (the bench
itself runs a whole stack: `python -m bench load`)."""
from __future__ import annotations

import math
import os
import subprocess
import sys

from bench.common import option, percentile
from bench.load import PAUSE, arrivals, back_to_back, memory_summary, tree_rss


def test_percentile_interpolates_between_ranks():
    assert percentile([3.0, 1.0, 2.0, 4.0], 50) == 2.5
    assert percentile(list(range(101)), 95) == 95
    assert percentile([7.0], 95) == 7.0
    assert math.isnan(percentile([], 95))


def test_option_reads_only_its_flag():
    argv = ["--rate", "40", "--rates", "5,10"]
    assert option(argv, "--rates", "x", str) == "5,10"
    assert option(argv, "--rate", 1.0, float) == 40.0
    assert option(argv, "--people", 50, int) == 50


def test_arrivals_hold_the_rate_in_the_window_with_person_pauses():
    people = arrivals(10, 600, seed=3)
    times = [at for p in people for at, _ in p.sends]
    assert all(0 <= at < 600 for at in times)
    assert abs(len(times) / 600 - 10) < 0.6  # the rate, from the first minute to the last
    first, last = sum(at < 60 for at in times), sum(at >= 540 for at in times)
    assert abs(first - last) < 0.3 * last  # steady: people who came before 0 send their later messages
    for p in people:
        assert 1 <= len(p.sends) <= 3
        gaps = [b[0] - a[0] for a, b in zip(p.sends, p.sends[1:], strict=False)]
        assert all(PAUSE[0] <= g <= PAUSE[1] for g in gaps)
    assert len({p.name for p in people}) == len(people)
    assert arrivals(10, 60, seed=3) == arrivals(10, 60, seed=3)


def test_back_to_back_sends_at_once():
    people = back_to_back(5, 4)
    assert len(people) == 5 and all(len(p.sends) == 4 and {at for at, _ in p.sends} == {0.0} for p in people)


def test_memory_summary_flat_or_growing():
    assert memory_summary([100, 200, 205, 210], warm=1) == (100, 200, 210, 210, True)
    assert memory_summary([100, 200, 260, 300], warm=1)[4] is False
    assert memory_summary([100], warm=6) == (100, 100, 100, 100, True)


def test_tree_rss_counts_children():
    child = subprocess.Popen([sys.executable, "-c", "x = b'x' * (60 * 2**20); import time; time.sleep(30)"])
    try:
        import time

        deadline = time.monotonic() + 20
        while tree_rss(child.pid) < 50 * 2**20 and time.monotonic() < deadline:
            time.sleep(0.1)
        alone = tree_rss(child.pid)
        assert alone >= 50 * 2**20
        assert tree_rss(os.getpid()) >= alone  # this process and its child
    finally:
        child.kill()
        child.wait()
    assert tree_rss(child.pid) == 0
