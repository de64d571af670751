"""`python -m bench load [--quick]`: the web chat under load, each load side by side with bare Rasa REST
(issue 18: gateway p95 ≤ 1.15× bare Rasa at every load, 0 "assistant unavailable" fallbacks and 0
system-made queue entries while Rasa is up; a soak with no error and flat memory).

One stack started as `dasi up` starts it (tests/stack.py: SQLite, gateway, one Rasa server, the action
server). Every person talking to the gateway has a twin who sends the same messages at the same moments
straight to the same Rasa server's /webhooks/rest/webhook (with its token, another sender id), so both
see the same load on the same Rasa server at once.

1. Open loop (`--rates 5,10,20 --seconds 30`): people arrive at random (Poisson) so that their messages
   reach the rate; each sends 2–3 messages with a 10–20 s pause (after reading the answer). People who
   arrived before the window send only their later messages, so the rate holds from the first second.
2. Back to back (`--people 50 --messages-each 4`): everybody at once, the next message as soon as the answer
   is in.
3. Soak (`--soak-seconds 300 --conversations 200`, gateway only): that many conversations at once, each
   a person with 2–3 messages and a 10–20 s pause after each answer, then a new person in its place;
   the resident memory of the gateway, Rasa and the action server (each with its children, from /proc)
   sampled every 10 s.

A message's time runs from sending it to its answer being there: the POST's replies, or, when the POST
returned the holding note ("잠시만요", `pending`), the first reply stored after it (polled as the page
polls). Fallbacks are replies equal to emergency.fallback_text; queue entries are the conversations'
state events to "waiting" in the database, by who made them (system = the gateway giving up on Rasa).
"""
from __future__ import annotations

import asyncio
import os
import random
import secrets
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from bench.common import option, percentile

GREETINGS = ["안녕하세요", "안녕하세요 상담 받고 싶어서요", "고마워요", "감사합니다"]
QUESTIONS = ["선불금 꼭 갚아야 돼요?", "센터 어디에 있어요", "경찰 조사 받을 때 같이 가줄 수 있어요?",
             "쉼터에 들어가고 싶어요", "상담 시간이 언제예요?", "법률 지원도 받을 수 있나요?"]
KNOWLEDGE = ["선불금 빚은 무효인가요?", "은행 대출도 갚아야 하나요?", "개인회생이나 파산 신청도 도와주나요?",
             "상담 비용이 드나요?", "이름 안 밝히고 상담할 수 있어요?", "병원비 지원 받을 수 있나요?"]
PAUSE = (10.0, 20.0)  # seconds a person pauses between messages
PER_PERSON = (2, 3)  # messages a person sends in the open loop and the soak
POLL = 0.1  # seconds between looks for an answer that came after the holding note
ANSWER_WAIT = 300.0  # seconds after which an answer that never came is an error
SAMPLE_EVERY = 10.0  # seconds between memory samples in the soak


@dataclass(frozen=True)
class Person:
    name: str
    sends: tuple[tuple[float, str], ...]  # (seconds from the start, text); a send waits for the last answer


def texts(rng: random.Random, n: int) -> list[str]:
    """A person's messages: often a greeting first, then questions, some for the knowledge base."""
    first = rng.choice(GREETINGS[:2] + QUESTIONS + KNOWLEDGE[:2])
    return [first] + [rng.choice(QUESTIONS + KNOWLEDGE + GREETINGS[2:]) for _ in range(n - 1)]


def arrivals(rate: float, seconds: float, seed: int = 0) -> list[Person]:
    """Open-loop people whose messages reach `rate` per second in [0, seconds): Poisson arrivals of
    rate / (mean messages per person), starting early enough that the window holds everyone's later
    messages too (messages before 0 or after `seconds` are dropped)."""
    rng = random.Random(seed)
    per_second = rate / (sum(PER_PERSON) / 2)
    t, people = -PAUSE[1] * (PER_PERSON[1] - 1), list[Person]()
    while True:
        t += rng.expovariate(per_second)
        if t >= seconds:
            return people
        said = texts(rng, rng.randint(*PER_PERSON))
        times = [t]
        for _ in said[1:]:
            times.append(times[-1] + rng.uniform(*PAUSE))
        sends = tuple((at, text) for at, text in zip(times, said, strict=True) if 0 <= at < seconds)
        if sends:
            people.append(Person(f"p{len(people):05d}", sends))


def back_to_back(people: int, messages: int, seed: int = 0) -> list[Person]:
    """Everybody at 0; each next message as soon as the previous answer is in."""
    rng = random.Random(seed)
    return [Person(f"b{i:03d}", tuple((0.0, text) for text in texts(rng, messages))) for i in range(people)]


@dataclass
class Tally:
    waits: list[float] = field(default_factory=list)
    held: int = 0  # POSTs that returned the holding note first
    fallbacks: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def cells(self) -> str:
        errors = sum(self.errors.values())
        return (f"{len(self.waits):5d} {percentile(self.waits, 50):7.2f} {percentile(self.waits, 95):7.2f} "
                f"{self.held:5d} {self.fallbacks:9d} {errors:6d}"
                + (f"  ({', '.join(f'{k} {v}' for k, v in self.errors.most_common(3))})" if errors else ""))


class Client:
    """A person's side of the web chat API, and their twin's side of bare Rasa REST."""

    def __init__(self, http: aiohttp.ClientSession, gateway: str, rasa: str, token: str) -> None:
        from assistant.core.languages import SERVED
        from assistant.safety import emergency

        self.http, self.gateway_url, self.rasa_url, self.token = http, gateway, rasa, token
        self.fallback_texts = {emergency.fallback_text(lang) for lang in SERVED}

    async def gateway(self, session: str, text: str, tally: Tally, after: int) -> int:
        """Sends one message, waits for its answer; returns the newest reply id the person has seen."""
        t0 = time.perf_counter()
        try:
            async with self.http.post(f"{self.gateway_url}/api/webchat/messages", json={"session": session,
                                      "text": text}, timeout=aiohttp.ClientTimeout(total=ANSWER_WAIT)) as r:
                data = await r.json()
                if r.status != 200:
                    tally.errors[f"HTTP {r.status}"] += 1
                    return after
            replies = data["replies"]
            if data.get("pending"):  # the holding note: the answer is stored when it comes
                tally.held += 1
                replies = await self._poll(session, after, t0)
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
            tally.errors[type(exc).__name__] += 1
            return after
        if not replies:
            tally.errors["empty answer"] += 1
            return after
        tally.waits.append(time.perf_counter() - t0)
        tally.fallbacks += any(r.get("text") in self.fallback_texts for r in replies)
        return max((r["id"] for r in replies if r.get("id")), default=after)

    async def _poll(self, session: str, after: int, t0: float) -> list[dict]:
        # The person's earlier messages are answered (each waits for its answer), so any reply stored
        # after the last one they saw answers this message.
        while time.perf_counter() - t0 < ANSWER_WAIT:
            async with self.http.get(f"{self.gateway_url}/api/webchat/messages",
                                     params={"session": session, "after": str(after)}) as r:
                messages = (await r.json()).get("messages", []) if r.status == 200 else []
            if messages:
                return messages
            await asyncio.sleep(POLL)
        raise TimeoutError("never answered")

    async def bare(self, sender: str, text: str, tally: Tally) -> None:
        t0 = time.perf_counter()
        try:
            async with self.http.post(f"{self.rasa_url}/webhooks/rest/webhook", params={"token": self.token},
                                      json={"sender": sender, "message": text},
                                      timeout=aiohttp.ClientTimeout(total=ANSWER_WAIT)) as r:
                answer = await r.json() if r.status == 200 else None
                if r.status != 200:
                    tally.errors[f"HTTP {r.status}"] += 1
                    return
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            tally.errors[type(exc).__name__] += 1
            return
        if not answer:  # Rasa's REST channel answers 200 with nothing when its handler was cut short
            tally.errors["empty answer"] += 1
            return
        tally.waits.append(time.perf_counter() - t0)


async def side_by_side(client: Client, people: list[Person], tag: str) -> tuple[Tally, Tally]:
    """Every person against the gateway and their twin against bare Rasa, on the same schedule."""
    gw, bare = Tally(), Tally()
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.5

    async def to_gateway(p: Person) -> None:
        seen = 0
        for at, text in p.sends:
            await asyncio.sleep(max(0.0, start + at - loop.time()))
            seen = await client.gateway(f"load-{tag}-{p.name}", text, gw, seen)

    async def to_rasa(p: Person) -> None:
        for at, text in p.sends:
            await asyncio.sleep(max(0.0, start + at - loop.time()))
            await client.bare(f"bare-{tag}-{p.name}", text, bare)

    await asyncio.gather(*(f(p) for p in people for f in (to_gateway, to_rasa)))
    return gw, bare


def tree_rss(pid: int) -> int:
    """Resident memory in bytes of a process and all its descendants (Linux /proc; 0 if it is gone)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    total, todo, page = 0, [pid], os.sysconf("SC_PAGE_SIZE")
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
    return total


def memory_summary(samples: list[int], warm: int) -> tuple[int, int, int, int, bool]:
    """(first, after warm-up, last, max, flat): flat when the last sample is within 10% of the one
    `warm` samples in (the caches and the model are loaded by then)."""
    after = samples[min(warm, len(samples) - 1)]
    return samples[0], after, samples[-1], max(samples), samples[-1] <= 1.10 * after


async def soak(client: Client, conversations: int, seconds: float, pids: dict[str, int],
               seed: int = 0) -> tuple[Tally, dict[str, list[int]], float]:
    """(the gateway's tally, memory samples per process, seconds it ran) for `conversations` at once."""
    tally, rng = Tally(), random.Random(seed)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    end = t0 + seconds
    memory: dict[str, list[int]] = {name: [] for name in pids}

    async def slot(i: int) -> None:
        await asyncio.sleep(i * min(PAUSE[0], seconds / 4) / conversations)  # not all at the same instant
        k = 0
        while loop.time() < end:
            seen, k = 0, k + 1
            for text in texts(rng, rng.randint(*PER_PERSON)):
                if loop.time() >= end:
                    return
                seen = await client.gateway(f"soak-{i:03d}-{k:03d}", text, tally, seen)
                await asyncio.sleep(rng.uniform(*PAUSE))

    async def sample() -> None:
        while True:
            for name, pid in pids.items():
                memory[name].append(tree_rss(pid))
            if loop.time() >= end:
                return
            await asyncio.sleep(SAMPLE_EVERY)

    sampler = asyncio.create_task(sample())
    await asyncio.gather(*(slot(i) for i in range(conversations)))
    await sampler
    return tally, memory, loop.time() - t0


def queued(db_url: str, since: datetime) -> Counter[str]:
    """Conversations put in the counsellor queue since `since`, as "who:why" (system:rasa_unavailable)."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from assistant.store.db import sync_url
    from casebook.models import ConversationEvent

    engine = create_engine(sync_url(db_url))
    try:
        with Session(engine) as s:
            rows = s.execute(select(ConversationEvent.actor, ConversationEvent.detail).where(
                ConversationEvent.kind == "state", ConversationEvent.created_at >= since)).all()
    finally:
        engine.dispose()
    return Counter(f"{actor}:{(detail or {}).get('reason')}" for actor, detail in rows
                   if (detail or {}).get("new") == "waiting")


HEADER = f"{'':34} {'n':>5} {'p50 s':>7} {'p95 s':>7} {'held':>5} {'fallbacks':>9} {'errors':>6}"


def report(label: str, gw: Tally, bare: Tally | None, queue: Counter[str], seconds: float) -> None:
    """The rows of one load: both sides, the p95 ratio, the answers per second, the queue entries."""
    print(label)
    print(f"  {'gateway':32} {gw.cells()}")
    if bare is not None:
        print(f"  {'bare Rasa REST':32} {bare.cells()}")
    ratio = percentile(gw.waits, 95) / max(percentile(bare.waits, 95), 1e-6) if bare is not None else None
    system = sum(v for k, v in queue.items() if k.startswith("system:"))
    others = ", ".join(f"{k} {v}" for k, v in queue.most_common() if not k.startswith("system:")) or "none"
    print(f"  {f'p95 ratio {ratio:.2f} (target ≤ 1.15); ' if ratio is not None else ''}"
          f"{len(gw.waits) / max(seconds, 1e-6):.1f} gateway answers/s over {seconds:.0f} s; system-made queue "
          f"entries {system} (target 0); other queue entries: {others}")


def run(rates: list[float], seconds: float, people: int, messages: int, soak_seconds: float,
        conversations: int, seed: int = 0) -> int:
    from tests.stack import Stack

    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp))
        token = stack.env["DASI_RASA_TOKEN"] = secrets.token_urlsafe(16)
        t0 = time.monotonic()
        stack.start()
        try:
            print(f"load: stack up in {time.monotonic() - t0:.0f} s ({os.cpu_count()} CPUs, load average "
                  f"{os.getloadavg()[0]:.1f} before the runs; SQLite)")
            return asyncio.run(_runs(stack, token, rates, seconds, people, messages, soak_seconds,
                                     conversations, seed))
        finally:
            stack.stop()


async def _runs(stack, token: str, rates: list[float], seconds: float, people: int, messages: int,
                soak_seconds: float, conversations: int, seed: int) -> int:
    db, tag = stack.env["DASI_DATABASE_URL"], secrets.token_hex(2)
    connector = aiohttp.TCPConnector(limit=0)  # the people, not the client's pool, set the concurrency
    async with aiohttp.ClientSession(connector=connector) as http:
        client = Client(http, stack.url, stack.env["DASI_RASA_URL"], token)
        await side_by_side(client, back_to_back(4, 2, seed), f"{tag}w")  # warm both paths up
        print(HEADER)
        for rate in rates:
            since, t0 = datetime.now(UTC), time.monotonic()
            people_in = arrivals(rate, seconds, seed)
            offered = sum(len(p.sends) for p in people_in) / seconds
            gw, bare = await side_by_side(client, people_in, f"{tag}r{rate:g}")
            report(f"open loop {rate:g} msg/s, {seconds:g} s (offered {offered:.1f}/s to each)", gw, bare,
                   queued(db, since), time.monotonic() - t0)
        if people:
            since, t0 = datetime.now(UTC), time.monotonic()
            gw, bare = await side_by_side(client, back_to_back(people, messages, seed), f"{tag}b")
            report(f"{people} people back to back, {messages} each", gw, bare, queued(db, since),
                   time.monotonic() - t0)
        if soak_seconds:
            since = datetime.now(UTC)
            pids = {name: stack.pid(name) for name in ("gateway", "rasa", "actions")}
            gw, memory, took = await soak(client, conversations, soak_seconds, pids, seed)
            report(f"soak {conversations} conv., {soak_seconds:g} s", gw, None, queued(db, since), took)
            warm = max(1, round(min(60.0, soak_seconds / 3) / SAMPLE_EVERY))
            for name, samples in memory.items():
                first, after, last, peak, flat = memory_summary(samples, warm)
                print(f"  RSS {name:8} first {first / 2**20:6.0f} MB, after warm-up {after / 2**20:6.0f}, "
                      f"last {last / 2**20:6.0f}, max {peak / 2**20:6.0f} ({len(samples)} samples): "
                      f"{'flat' if flat else 'GROWING'}")
    return 0


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    rates = [float(r) for r in option(argv, "--rates", "5" if quick else "5,10,20", str).split(",") if r]
    return run(rates, option(argv, "--seconds", 10.0 if quick else 30.0, float),
               option(argv, "--people", 10 if quick else 50, int), option(argv, "--messages-each", 4, int),
               option(argv, "--soak-seconds", 30.0 if quick else 300.0, float),
               option(argv, "--conversations", 50 if quick else 200, int), option(argv, "--seed", 0, int))
