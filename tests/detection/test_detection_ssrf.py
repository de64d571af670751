"""A hostile board page must not make the scanner fetch internal addresses (finding 3): its links,
images and redirects point at an "internal" server on 127.0.0.2, which must never be asked anything.
The board itself runs on 127.0.0.1, which the tests exempt through the fetcher's test-only allow-list."""
from __future__ import annotations

import pytest
from aiohttp import web
from sqlalchemy import select

from detection.pipeline.scan import scan
from detection.storage import queries as store
from detection.storage.tables import DetectedPost
from tests.conftest import serve_routes
from tests.detection.test_detection_pipeline import FakeClassifier
from tests.detection.test_detection_pipeline_sources import RecordingClassifier, allow_local, configure

IMAGE = b"\x89PNG-fake"


@pytest.fixture
async def internal():
    """The 'internal service' (a metadata endpoint, an admin API): records every request."""
    hits: list[str] = []

    async def anything(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text='<div id="content">INTERNAL-SECRET 조건만남 15만</div>', content_type="text/html")

    runner, base = await serve_routes([web.get("/{tail:.*}", anything)], "127.0.0.2")
    yield base, hits
    await runner.cleanup()


async def test_board_links_images_and_redirects_to_internal_addresses_are_not_fetched(env, tmp_path, monkeypatch,
                                                                                     internal):
    inner, inner_hits = internal
    board_hits: list[str] = []

    async def robots(request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nAllow: /\n")

    async def listing(request: web.Request) -> web.Response:
        return web.Response(content_type="text/html", text=f"""<ul>
<li class="post"><a class="title" href="{inner}/latest/meta-data">글1</a><p class="s">조건만남 1</p>
  <img src="{inner}/img.png"></li>
<li class="post"><a class="title" href="/board/post/2">글2</a><p class="s">조건만남 2</p></li>
<li class="post"><a class="title" href="file:///etc/passwd">글3</a><p class="s">조건만남 3</p></li>
<li class="post"><a class="title" href="/board/post/4">글4</a><p class="s">조건만남 4</p><img src="/img/4.png"></li>
</ul>""")

    async def post(request: web.Request) -> web.Response:
        board_hits.append(request.path)
        if request.match_info["n"] == "2":  # a post that redirects inside
            raise web.HTTPFound(f"{inner}/admin")
        return web.Response(text='<div id="content">본문 4 010-3333-4444</div>', content_type="text/html")

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=IMAGE, content_type="image/png")

    allow_local(monkeypatch)
    runner, base = await serve_routes([web.get("/robots.txt", robots), web.get("/board/list", listing),
                                web.get("/board/post/{n}", post), web.get("/img/{n}.png", image)], "127.0.0.1")
    try:
        settings = configure(env, tmp_path, {"board": {
            "kind": "board", "url": f"{base}/board/list", "item": "li.post", "link": "a.title", "text": ".s",
            "image": "img", "detail_text": "#content", "fetch_images": True, "per_minute": 6000}})
        seen = RecordingClassifier()
        await scan(settings, "board", classifier=seen)
    finally:
        await runner.cleanup()
    assert inner_hits == []  # neither the link, the image nor the redirect reached it
    assert seen.images == [[IMAGE]]  # the board's own image is still fetched
    assert "/board/post/2" in board_hits
    with store.session(settings) as s:
        posts = s.scalars(select(DetectedPost).order_by(DetectedPost.id)).all()
        assert not any("INTERNAL-SECRET" in p.text for p in posts)
        assert [p.url for p in posts] == [f"{base}/board/post/4"]  # the ordinary post is still read
        assert "본문 4" in posts[0].text


async def test_x_images_stay_on_the_api_and_media_hosts(env, tmp_path, monkeypatch, internal):
    """An API answer naming an internal image URL: not fetched."""
    inner, inner_hits = internal

    async def search(request: web.Request) -> web.Response:
        return web.json_response({
            "data": [{"id": "1", "text": "조건만남 15만", "author_id": "u1", "attachments": {"media_keys": ["m1"]}}],
            "includes": {"users": [{"id": "u1", "username": "a"}],
                         "media": [{"media_key": "m1", "type": "photo", "url": f"{inner}/169.254.169.254.jpg"}]},
            "meta": {"result_count": 1, "newest_id": "1"}})

    allow_local(monkeypatch)
    runner, base = await serve_routes([web.get("/2/tweets/search/recent", search)], "127.0.0.1")
    try:
        settings = configure(env, tmp_path, {"x": {"kind": "x", "query": "q", "per_minute": 6000,
                                                    "fetch_images": True}},
                             X_API_BASE=base, DASI_X_BEARER_TOKEN="t")
        result = await scan(settings, "x", classifier=FakeClassifier())
    finally:
        await runner.cleanup()
    assert result.stored == 1 and inner_hits == []


async def test_recheck_does_not_follow_a_post_url_inside(env, tmp_path, monkeypatch, internal):
    """A stored post URL that redirects to an internal address: recheck does not go there."""
    from detection.pipeline import reports

    inner, inner_hits = internal

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"{inner}/internal")

    allow_local(monkeypatch)
    runner, base = await serve_routes([web.get("/p/{n}", moved)], "127.0.0.1")
    try:
        from detection.cli.pipeline import recheck_fetch
        settings = configure(env, tmp_path, {})
        async with recheck_fetch(settings) as fetch:
            with pytest.raises(Exception):  # noqa: B017 - recheck counts any failure as "unknown"
                await fetch(f"{base}/p/1")
            with pytest.raises(Exception):  # noqa: B017
                await fetch(f"{inner}/direct")
    finally:
        await runner.cleanup()
    assert inner_hits == []
    assert reports._gone(0, "", "x") is False  # a failed fetch is never counted as deleted
