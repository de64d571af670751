"""The gateway's background work on citizen reports: each new item goes through the detection pipeline
(safe fetch, OCR + classifier, evidence, clusters) into the review queue, and items about a minor in
danger are handed to the counsellor queue. A submit on the page wakes it at once; reports the chat's
action server stored (another process) are found by polling. A restart picks up whatever is pending:
an item is marked processed in the same transaction that stores its post."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

from aiohttp import web
from sqlalchemy import select

from assistant.core.settings import Settings
from assistant.store import crypto
from assistant.store.db import sessionmaker
from assistant.web.appkeys import LIVE, SETTINGS
from assistant.web.safe_fetch import FetchError
from casebook.conversations import service as conv_service
from casebook.models import Conversation, ConversationEvent, ConversationState, Message
from detection.citizen import service
from detection.citizen import store as citizen_store
from detection.citizen.tables import CitizenItem, CitizenReport
from detection.pipeline.evidence import EvidenceStore
from detection.pipeline.sources.base import safe_fetcher
from detection.storage import queries as store

log = logging.getLogger("dasi.detection.citizen")

POLL_SECONDS = 5.0          # reports stored by the chat's action server wait at most this long
FETCH_TIMEOUT = 15.0
FETCH_MAX_BYTES = 2 * 1024 * 1024
QUEUE_REASON = "citizen_report_minor"
NOTE = ("시민제보 — 미성년자 관련 제보가 들어왔어요 (제보 묶음 #{item}, 제보 {count}건). 내용은 탐지 검토 화면 "
        "/console/detection 의 시민제보에서 확인하세요. 제보한 사람과는 연락할 수 없어요.")


class Worker:
    """One per gateway. `classifier` and `allow_for_tests` are for tests (a stub, a local fake page)."""

    def __init__(self, settings: Settings, live: Any = None, classifier: Any = None,
                 allow_for_tests: Iterable[str] = ()) -> None:
        self.settings, self.live, self.classifier = settings, live, classifier
        self.allow_for_tests = tuple(allow_for_tests)
        self.evidence = EvidenceStore.for_settings(settings)
        self.wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()
        self.last_seconds: dict[int, float] = {}  # item id → seconds it took (the tests print them)

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    def _classifier(self) -> Any:
        if self.classifier is None:
            from detection.pipeline.scan import load_classifier
            self.classifier = load_classifier(self.settings)
        return self.classifier

    async def _fetch(self, work: service.Work) -> None:
        """The reported link, only through the safe fetcher; a failure keeps the report with its text."""
        if not work.url:
            return
        try:
            async with safe_fetcher(self.settings, timeout=FETCH_TIMEOUT, max_bytes=FETCH_MAX_BYTES,
                                    allow_for_tests=self.allow_for_tests) as f:
                page = await f.get(work.url)
        except FetchError as exc:
            work.fetch_status = f"refused:{exc.reason}"
            return
        except Exception as exc:  # unreachable, timeout, TLS: the person's text still goes to review
            work.fetch_status = f"failed:{type(exc).__name__}"
            return
        work.fetch_status = f"http:{page.status}"
        if page.status == 200:
            work.fetched = page.body
            work.page_text = service.page_text(page.body)

    async def process(self, item_id: int) -> int | None:
        """One item into the review queue; returns its post id (None if already done)."""
        started = time.perf_counter()

        def load() -> service.Work | None:
            with store.session(self.settings) as s:
                return service.load_work(s, item_id, self.evidence)
        work = await self._run(load)
        if work is None:
            return None
        await self._fetch(work)

        def classify_and_store() -> int | None:
            text = work.text + ("\n" + work.page_text if work.page_text else "")
            verdict = self._classifier().classify(text, [data for _, data in work.screenshots])
            with store.session(self.settings) as s, s.begin():
                post = service.store_post(s, work, verdict, self.evidence)
                return post.id if post else None
        post_id = await self._run(classify_and_store)
        self.last_seconds[item_id] = time.perf_counter() - started
        log.info("citizen item %s → post %s (%s, %.1fs)", item_id, post_id, work.fetch_status,
                 self.last_seconds[item_id])  # ids and codes only
        return post_id

    async def hand_over(self, item_id: int) -> None:
        """A minor in danger: the counsellor queue gets the reporter's chat conversation if the report came
        from the chat, else a conversation of its own (channel "citizen") holding only a pointer to it."""
        async with sessionmaker(self.settings.database_url)() as s, s.begin():
            item = await s.get(CitizenItem, item_id)
            if item is None or item.conversation_id is not None:
                return
            reports = (await s.scalars(select(CitizenReport).where(CitizenReport.item_id == item_id))).all()
            conv = None
            for r in reports:
                if r.conversation:
                    conv = await conv_service.get_conversation(s, r.conversation)
                    if conv is not None and conv.state != ConversationState.closed.value:
                        break
                    conv = None
            if conv is None:
                conv = Conversation(channel="citizen", user_key=crypto.blind_index("citizen", f"item:{item_id}"),
                                    user_ref=f"citizen-item:{item_id}")
                s.add(conv)
                await s.flush()
                s.add(ConversationEvent(conversation_id=conv.id, kind="opened", actor="system",
                                        detail={"channel": "citizen"}))
            s.add(Message(conversation_id=conv.id, direction="in", author="system", channel=conv.channel,
                          text=NOTE.format(item=item_id, count=item.report_count)))
            await conv_service.flag_youth(s, conv, "system")
            await conv_service.raise_risk(s, conv, "high", "system", reason=QUEUE_REASON)
            await conv_service.request_handoff(s, conv, "system", reason=QUEUE_REASON)
            item.conversation_id = conv.id
            public_id, state, risk, channel = conv.public_id, conv.state, conv.risk, conv.channel
        if self.live is not None:
            self.live.publish({"type": "state", "conversation": public_id, "state": state, "risk": risk,
                               "channel": channel})

    async def run_once(self) -> int:
        """Everything pending now; returns how many items went into the review queue."""
        async with self._lock:
            def pending() -> list[int]:
                with store.session(self.settings) as s:
                    return citizen_store.pending_items(s)
            done = 0
            for item_id in await self._run(pending):
                try:
                    done += await self.process(item_id) is not None
                except Exception:  # one bad item must not stop the others; it is retried next round
                    log.exception("citizen item %s could not be processed", item_id)

            def minors() -> list[int]:
                with store.session(self.settings) as s:
                    return citizen_store.items_for_counsellors(s)
            for item_id in await self._run(minors):
                try:
                    await self.hand_over(item_id)
                except Exception:
                    log.exception("citizen item %s could not be handed to the counsellors", item_id)
            return done

    async def loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # the database down for a moment: try again next round
                log.exception("citizen report round failed")
            try:
                await asyncio.wait_for(self.wake.wait(), POLL_SECONDS)
            except TimeoutError:
                pass
            self.wake.clear()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


WORKER = web.AppKey("citizen_worker", Worker)
# Tests only: a classifier stub, networks the fetcher may reach (a local fake page). Never a setting.
TEST_CLASSIFIER = web.AppKey("citizen_test_classifier", object)
TEST_FETCH_ALLOW = web.AppKey("citizen_test_fetch_allow", tuple)


def setup(app: web.Application) -> None:
    async def start(app: web.Application) -> None:
        app[WORKER] = Worker(app[SETTINGS], app.get(LIVE), app.get(TEST_CLASSIFIER),
                             app.get(TEST_FETCH_ALLOW, ()))
        app[WORKER].start()

    async def stop(app: web.Application) -> None:
        if WORKER in app:
            await app[WORKER].stop()
    app.on_startup.append(start)
    app.on_cleanup.insert(0, stop)
