"""Sources against local fake servers: X recent search (bearer auth, one 429, paging, since_id across
restarts), an RSS feed, and a board whose robots.txt disallows a path."""
from __future__ import annotations

import hashlib
import time

import pytest
from aiohttp import web
from sqlalchemy import select

from assistant.core.settings import get_settings
from assistant.store.migrate import upgrade
from assistant.web.safe_fetch import SafeFetcher
from detection.pipeline.evidence import EvidenceStore
from detection.pipeline.scan import scan
from detection.pipeline.sources import SourceError
from detection.storage import queries as store
from detection.storage.tables import DetectedPost
from tests.detection.test_detection_pipeline import FakeClassifier, write_sources

TOKEN = "test-bearer"
IMAGE = b"\xff\xd8\xff\xe0fake-jpeg-"


class RecordingClassifier(FakeClassifier):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[list[bytes]] = []

    def classify(self, text, images=()):
        self.images.append(list(images))
        return super().classify(text, images)


def tweet(i: int, text: str) -> dict:
    return {"id": str(i), "text": text, "author_id": f"u{i}", "created_at": "2026-11-25T01:02:03.000Z",
            "attachments": {"media_keys": [f"m{i}"]}}


class FakeX:
    """Three tweets newest first, two per page; then one newer tweet appears."""

    def __init__(self) -> None:
        self.img_base = "https://img.example"
        self.requests: list[dict] = []
        self.limited_once = False
        self.tweets = [tweet(30, "조건만남 15만 카톡 deal77"), tweet(20, "오늘 날씨 좋네요"),
                       tweet(10, "출장안마 후불 010-1111-2222")]

    async def search(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"title": "Unauthorized"}, status=401)
        q = dict(request.query)
        self.requests.append(q)
        assert q["query"] and "attachments.media_keys" in q["expansions"]
        if not self.limited_once:
            self.limited_once = True
            return web.json_response({"title": "Too Many Requests"}, status=429,
                                     headers={"x-rate-limit-reset": str(int(time.time()) + 1)})
        pool = [t for t in self.tweets if not q.get("since_id") or int(t["id"]) > int(q["since_id"])]
        start = int(q.get("next_token", "0"))
        page = pool[start:start + 2]
        meta: dict = {"result_count": len(page)}
        if page:
            meta.update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
        if start + 2 < len(pool):
            meta["next_token"] = str(start + 2)
        body: dict = {"meta": meta}
        if page:
            body["data"] = page
            body["includes"] = {"users": [{"id": t["author_id"], "username": f"user{t['id']}"} for t in page],
                                "media": [{"media_key": f"m{t['id']}", "type": "photo",
                                           "url": f"{self.img_base}/{t['id']}.jpg"} for t in page]}
        return web.json_response(body)


def allow_local(monkeypatch: pytest.MonkeyPatch) -> None:
    """Detection's safe fetcher with the fake servers' address exempted through its test-only allow-list
    (raising=False so the SSRF tests run, and fail, against code without it)."""
    def fetcher(settings, **kwargs):
        return SafeFetcher(user_agent=settings.detect_user_agent, allow_for_tests=("127.0.0.1/32",), **kwargs)

    monkeypatch.setattr("detection.pipeline.sources.base.safe_fetcher", fetcher, raising=False)


@pytest.fixture
async def server(monkeypatch):
    """A local aiohttp app the test adds routes to; yields (app, base URL). Detection may fetch from it."""
    allow_local(monkeypatch)
    app = web.Application()
    state: dict = {}

    async def start(routes) -> str:
        app.add_routes(routes)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        state["runner"] = runner
        return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"

    yield start
    if "runner" in state:
        await state["runner"].cleanup()


def configure(env, tmp_path, sources: dict, **extra: str):
    env(DASI_DETECT_SOURCES=str(write_sources(tmp_path, sources)), **extra)
    settings = get_settings()
    upgrade()
    return settings


def stored(settings) -> list[tuple]:
    with store.session(settings) as s:
        return [(p.post_id, p.url, p.account, p.image_urls) for p in
                s.scalars(select(DetectedPost).order_by(DetectedPost.id)).all()]


async def test_x_recent_search_auth_429_paging_and_resume(env, tmp_path, server):
    fake = FakeX()

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=IMAGE + request.match_info["n"].encode(), content_type="image/jpeg")

    base = await server([web.get("/2/tweets/search/recent", fake.search), web.get("/img/{n}.jpg", image)])
    fake.img_base = f"{base}/img"
    settings = configure(env, tmp_path, {"x": {"kind": "x", "query": "조건만남 lang:ko", "max_results": 10,
                                                "per_minute": 6000, "fetch_images": True}},
                         X_API_BASE=base, DASI_X_BEARER_TOKEN=TOKEN)
    started = time.monotonic()
    seen = RecordingClassifier()
    first = await scan(settings, "x", classifier=seen, max_batches=1)  # stops after page 1
    assert time.monotonic() - started >= 0.9  # waited for x-rate-limit-reset after the 429
    assert first.stored == 2 and len(fake.requests) == 2
    with store.session(settings) as s:
        assert store.get_cursor(s, "x") == {"since_id": None, "next_token": "2", "run_newest": "30"}
    second = await scan(settings, "x", classifier=FakeClassifier())  # a restart finishes the run
    assert second.stored == 1 and fake.requests[-1]["next_token"] == "2"
    with store.session(settings) as s:
        assert store.get_cursor(s, "x") == {"since_id": "30"}
    fake.tweets.insert(0, tweet(40, "고딩 환영 조건만남 텔레 @kid"))
    third = await scan(settings, "x", classifier=FakeClassifier())
    assert fake.requests[-1]["since_id"] == "30" and "next_token" not in fake.requests[-1]
    assert third.fetched == 1 and third.stored == 1
    rows = stored(settings)
    assert [r[0] for r in rows] == ["30", "20", "10", "40"]  # each tweet once
    assert rows[0][1] == "https://x.com/user30/status/30" and rows[0][2] == "user30"
    assert rows[0][3] == [f"{base}/img/30.jpg"]
    assert seen.images == [[IMAGE + b"30"], [IMAGE + b"20"]]  # fetched images go to the classifier (OCR)
    entry = EvidenceStore.for_settings(settings).entries()[0]  # tweet 30, flagged
    kinds = {f["kind"]: f for f in entry["files"]}
    assert kinds["image"]["sha256"] == hashlib.sha256(IMAGE + b"30").hexdigest()
    assert b'"id": "30"' in EvidenceStore.for_settings(settings).read_file(kinds["capture"]["sha256"])


async def test_x_wrong_token_is_an_error(env, tmp_path, server):
    fake = FakeX()
    fake.limited_once = True
    base = await server([web.get("/2/tweets/search/recent", fake.search)])
    settings = configure(env, tmp_path, {"x": {"kind": "x", "query": "q", "per_minute": 6000}},
                         X_API_BASE=base, DASI_X_BEARER_TOKEN="wrong")
    with pytest.raises(SourceError, match="401"):
        await scan(settings, "x", classifier=FakeClassifier())
    assert stored(settings) == []


FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>board</title>{items}</channel></rss>"""
ITEM = """<item><guid>{id}</guid><link>https://board.example/{id}</link><title>{title}</title>
<description><![CDATA[<p>{body}</p><img src="https://img.example/{id}.png">]]></description>
<pubDate>Tue, 24 Nov 2026 10:00:00 +0000</pubDate></item>"""


async def test_rss_feed_only_new_entries(env, tmp_path, server):
    entries = [("p1", "출장안마", "후불 15만 010-2222-3333"), ("p2", "동네 소식", "도서관 휴관 안내")]

    async def feed(request: web.Request) -> web.Response:
        items = "".join(ITEM.format(id=i, title=t, body=b) for i, t, b in entries)
        return web.Response(text=FEED.format(items=items), content_type="application/rss+xml")

    base = await server([web.get("/rss", feed)])
    settings = configure(env, tmp_path, {"feed": {"kind": "rss", "url": f"{base}/rss", "platform": "board",
                                                   "per_minute": 6000}})
    first = await scan(settings, "feed", classifier=FakeClassifier())
    assert (first.stored, first.flagged) == (2, 1)
    assert (await scan(settings, "feed", classifier=FakeClassifier())).fetched == 0
    entries.insert(0, ("p3", "오피 신규", "20대 후불"))
    third = await scan(settings, "feed", classifier=FakeClassifier())
    assert (third.fetched, third.stored) == (1, 1)
    rows = stored(settings)
    assert [r[0] for r in rows] == ["p1", "p2", "p3"]
    assert rows[0][1] == "https://board.example/p1" and rows[0][3] == ["https://img.example/p1.png"]
    with store.session(settings) as s:
        p1 = s.scalar(select(DetectedPost).where(DetectedPost.post_id == "p1"))
        assert "출장안마" in p1.text and "010-2222-3333" in p1.text and p1.posted_at.hour == 10


LIST = """<html><body><ul>
<li class="post"><a class="title" href="/board/post/1">글1</a><span class="writer">w1</span>
  <p class="summary">조건만남 15만 카톡 deal77</p></li>
<li class="post"><a class="title" href="/board/private/2">글2</a><span class="writer">w2</span>
  <p class="summary">오피 신규 후불</p></li>
<li class="post"><a class="title" href="/board/post/3">글3</a><span class="writer">w3</span>
  <p class="summary">오늘 점심 뭐 먹지</p></li>
</ul></body></html>"""


async def test_board_selectors_and_robots_txt(env, tmp_path, server):
    hits: list[str] = []

    async def robots(request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nDisallow: /board/private\n")

    async def page(request: web.Request) -> web.Response:
        hits.append(request.path)
        if request.path.startswith("/board/post/"):
            return web.Response(text=f'<div id="content">본문 {request.match_info["n"]} 010-3333-4444</div>',
                                content_type="text/html")
        return web.Response(text=LIST, content_type="text/html")

    base = await server([web.get("/robots.txt", robots), web.get("/board/list", page),
                         web.get("/board/private/list", page), web.get("/board/post/{n}", page),
                         web.get("/board/private/{n}", page)])
    settings = configure(env, tmp_path, {"board": {
        "kind": "board", "platform": "board", "urls": [f"{base}/board/list", f"{base}/board/private/list"],
        "item": "li.post", "link": "a.title", "text": ".summary", "account": ".writer",
        "detail_text": "#content", "per_minute": 6000}})
    first = await scan(settings, "board", classifier=FakeClassifier())
    assert not any(h.startswith("/board/private") for h in hits)  # neither the list nor the post
    rows = stored(settings)
    assert [r[1] for r in rows] == [f"{base}/board/post/1", f"{base}/board/post/3"]
    assert rows[0][2] == "w1" and first.flagged == 1
    with store.session(settings) as s:
        p = s.scalars(select(DetectedPost).order_by(DetectedPost.id)).first()
        assert "본문 1 010-3333-4444" in p.text and "조건만남" in p.text
    again = await scan(settings, "board", classifier=FakeClassifier())
    assert again.stored == 0


async def test_board_is_skipped_when_robots_disallows_everything(env, tmp_path, server):
    hits: list[str] = []

    async def robots(request: web.Request) -> web.Response:
        return web.Response(text="User-agent: dasi-detection\nDisallow: /\n")

    async def page(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text=LIST, content_type="text/html")

    base = await server([web.get("/robots.txt", robots), web.get("/board/list", page)])
    settings = configure(env, tmp_path, {"board": {"kind": "board", "url": f"{base}/board/list", "item": "li.post",
                                                    "link": "a.title", "text": ".summary", "per_minute": 6000}})
    result = await scan(settings, "board", classifier=FakeClassifier())
    assert hits == [] and result.stored == 0


async def test_cli_recheck_fetches_the_urls(env, tmp_path, server, capsys, monkeypatch):
    """approve → submitted → `dasi detect recheck` over HTTP: a 404 and a page without the text are
    deleted, a page still showing the ad is not."""
    import asyncio
    import json as _json

    from assistant.cli.main import main
    from detection.pipeline import reports
    from detection.pipeline import scan as scan_module
    from detection.review import service as review
    from tests.detection.test_detection_pipeline import write_jsonl

    pages = {"1": (404, ""), "2": (200, "<p>삭제된 게시물입니다</p>"),
             "3": (200, "<p>오피 신규 20대 후불 010-7777-8888</p>")}

    async def post(request: web.Request) -> web.Response:
        status, body = pages[request.match_info["n"]]
        return web.Response(status=status, text=body, content_type="text/html")

    base = await server([web.get("/p/{n}", post)])
    write_jsonl(tmp_path / "in.jsonl", [
        {"id": "1", "url": f"{base}/p/1", "text": "조건만남 15만 010-1111-2222"},
        {"id": "2", "url": f"{base}/p/2", "text": "출장안마 후불 카톡: abc123 25만"},
        {"id": "3", "url": f"{base}/p/3", "text": "오피 신규 20대 후불 010-7777-8888"}])
    settings = configure(env, tmp_path, {"in": {"kind": "import", "path": "in.jsonl"}})
    monkeypatch.setattr(scan_module, "load_classifier", lambda s: FakeClassifier())
    assert await asyncio.to_thread(main, ["detect", "scan", "--source", "in"]) == 0  # CLI runs its own loop
    with store.session(settings) as s, s.begin():
        for p in s.scalars(select(DetectedPost)).all():
            review.decide(s, p.id, "approve", "staff:kim")
        batch = reports.draft_batch(s, settings)
        assert len(batch.reports) == 3
        for rid in batch.reports:
            reports.approve(s, rid, "staff:kim")
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["detect", "recheck"]) == 0
    assert _json.loads(capsys.readouterr().out) == {"deleted": 2, "not_deleted": 1}
    with store.session(settings) as s:
        removal = {p.post_id: p.removal for p in s.scalars(select(DetectedPost)).all()}
    assert removal == {"1": "deleted", "2": "deleted", "3": "live"}
