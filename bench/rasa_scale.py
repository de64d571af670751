"""`python -m bench rasa-scale`: messages answered per second with one Rasa server behind the gateway and
with two, at the same offered load (issue 18: two Rasa servers ≥ 1.4× one).

One action server, two Rasa servers sharing their trackers in PostgreSQL (encrypted) and their locks in
a private redis-server, one gateway (`dasi gateway`, the same commands as the Procfile). The same burst is
sent twice, open loop: N web chat messages from N/3 people at a fixed rate above what one server answers;
first with DASI_RASA_URLS naming one server, then both. Throughput = messages / (last answer − first
message), read from the messages' answered_at in the database. Needs DASI_BENCH_POSTGRES_URL or
DASI_TEST_POSTGRES_URL (a scratch database is made and dropped) and redis-server.
"""
from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import aiohttp
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from assistant.store.db import sync_url
from bench.common import option, percentile

QUESTIONS = ["안녕하세요", "선불금 꼭 갚아야 하나요?", "법률 지원도 받을 수 있나요?"]


async def burst(base: str, count: int, rate: float, tag: str) -> float:
    """Send `count` messages at `rate` per second (open loop); returns when the first was sent."""
    started = time.time()
    async with aiohttp.ClientSession() as http:
        people = max(1, count // len(QUESTIONS))

        async def one(i: int) -> None:  # person i % people, their (i // people)-th message
            await asyncio.sleep(i / rate)
            body = {"session": f"bench-{tag}-{i % people:03d}-x", "text": QUESTIONS[(i // people) % len(QUESTIONS)]}
            async with http.post(f"{base}/api/webchat/messages", json=body,
                                 timeout=aiohttp.ClientTimeout(total=120)) as r:
                await r.read()
        await asyncio.gather(*(one(i) for i in range(count)))
    return started


def answered(db: str, since: float) -> tuple[int, int, list[float], float]:
    """(stored since, answered, seconds each waited for its answer, when the last was answered)."""
    from datetime import UTC, datetime

    from casebook.models import Message

    engine = create_engine(sync_url(db))
    try:
        with Session(engine) as s:
            rows = s.execute(select(Message.created_at, Message.answered_at).where(
                Message.direction == "in", Message.created_at >= datetime.fromtimestamp(since, UTC))).all()
    finally:
        engine.dispose()
    done = [(c, a) for c, a in rows if a is not None]
    last = max((a.timestamp() for _, a in done), default=since)
    return len(rows), len(done), [(a - c).total_seconds() for c, a in done], last


def run(count: int = 120, rate: float = 40.0) -> int:
    from tests.e2e.test_two_gateways import Cluster
    from tests.shared_services import own_database, redis_server

    if not (os.environ.get("DASI_BENCH_POSTGRES_URL") or os.environ.get("DASI_TEST_POSTGRES_URL")):
        print("rasa scale: no PostgreSQL (DASI_BENCH_POSTGRES_URL / DASI_TEST_POSTGRES_URL), skipped")
        return 0
    if not shutil.which("redis-server"):
        print("rasa scale: redis-server not installed, skipped")
        return 0
    os.environ.setdefault("DASI_TEST_POSTGRES_URL", os.environ.get("DASI_BENCH_POSTGRES_URL", ""))
    with tempfile.TemporaryDirectory() as tmp_dir, ExitStack() as stack:
        tmp = Path(tmp_dir)
        redis = stack.enter_context(redis_server(tmp))
        db, trackers = stack.enter_context(own_database()), stack.enter_context(own_database())
        c = Cluster(tmp, db, trackers, redis)
        stack.callback(c.stop)
        import subprocess

        subprocess.run([str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "dasi"), "db", "upgrade"],
                       env=c.env, check=True, capture_output=True)
        t0 = time.monotonic()
        for name in ("actions", "rasa0", "rasa1"):
            c.start(name)
        c.wait_rasa(0)
        c.wait_rasa(1)
        c.keep_actions_up()
        print(f"rasa scale: two Rasa servers up in {time.monotonic() - t0:.0f} s")
        results = {}
        for label, urls in (("one Rasa server", c.rasa_urls[:1]), ("two Rasa servers", c.rasa_urls)):
            c.env["DASI_RASA_URLS"] = ",".join(urls)
            c.start("gateway-a")
            c.wait_gateway("gateway-a")
            since = asyncio.run(burst(c.url("a"), count, rate, secrets.token_hex(3)))
            deadline = time.time() + 600
            while time.time() < deadline:
                stored, done, waits, last = answered(db, since - 1)
                if stored >= count and done >= stored:
                    break
                time.sleep(1)
            rate_done = done / max(1e-6, last - since)
            p95 = percentile(waits, 95)
            results[label] = rate_done
            print(f"  {label}: {done}/{count} answered, {rate_done:.1f} msg/s; time to answer median "
                  f"{statistics.median(waits) if waits else float('nan'):.1f} s, p95 {p95:.1f} s "
                  f"(offered {rate:.0f} msg/s)")
            c.procs["gateway-a"].terminate()
            c.procs["gateway-a"].wait(30)
        ratio = results["two Rasa servers"] / max(1e-6, results["one Rasa server"])
        print(f"rasa scale: two Rasa servers answer {ratio:.2f}x the messages per second of one (target 1.4x; "
              f"{os.cpu_count()} CPUs here)")
    return 0


def main(argv: list[str]) -> int:
    return run(option(argv, "--messages", 120, int), option(argv, "--rate", 40.0, float))
