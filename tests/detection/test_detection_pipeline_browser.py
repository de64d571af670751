"""The detection review in a real headless Chromium against the real gateway: an imported batch is
scanned, a counsellor signs in to the console, opens the review queue (youth first), sees the spans
that fired highlighted in the original text, approves one post, rejects another, and sees the
monitoring table change. Also: the API refuses anyone not signed in, and roles without review rights."""
from __future__ import annotations

import aiohttp
import pytest
from playwright.async_api import async_playwright, expect

from assistant.core.settings import get_settings
from assistant.store.db import sessionmaker
from assistant.store.migrate import upgrade
from casebook.staff import accounts
from connectors.gateway import create_app
from detection.pipeline.scan import scan
from detection.storage import queries as store
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import free_port, serve
from tests.detection.test_detection_pipeline import POSTS, FakeClassifier, write_jsonl, write_sources

PASSWORD = "검토-테스트-비밀번호-42"


@pytest.fixture
async def gateway(env, tmp_path):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium. The browser test does not skip.")
    write_jsonl(tmp_path / "batch.jsonl", POSTS)
    env(DASI_DETECT_SOURCES=str(write_sources(tmp_path, {"batch": {"kind": "import", "path": "batch.jsonl"}})),
        DASI_RASA_URL=f"http://127.0.0.1:{free_port()}", DASI_ACTIONS_URL=f"http://127.0.0.1:{free_port()}")
    settings = get_settings()
    upgrade()
    result = await scan(settings, "batch", classifier=FakeClassifier())
    assert result.flagged == 4
    async with sessionmaker(settings.database_url)() as s, s.begin():
        await accounts.create_user(s, "kim", "김상담", "counsellor", PASSWORD)
        await accounts.create_user(s, "ed", "편집자", "editor", PASSWORD)
    async with serve(create_app(settings)) as url:
        yield settings, url


async def test_api_needs_a_signed_in_reviewer(gateway):
    settings, base = gateway
    # unsafe=True: keep cookies from an IP-address host (127.0.0.1)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{base}/api/detection/queue") as resp:
            assert resp.status == 401
        async with http.post(f"{base}/api/console/login", json={"login": "ed", "password": PASSWORD}) as resp:
            csrf = (await resp.json())["csrf_token"]
        async with http.get(f"{base}/api/detection/queue") as resp:
            assert resp.status == 403  # an editor may not review posts
        async with http.post(f"{base}/api/detection/posts/1/decision", json={"decision": "approve"},
                             headers={"X-CSRF-Token": csrf}) as resp:
            assert resp.status == 403


async def test_review_queue_highlight_approve_and_stats(gateway, tmp_path):
    settings, base = gateway
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 1200}, locale="ko-KR")
            page.set_default_timeout(20_000)
            page.on("dialog", lambda dialog: dialog.accept())
            try:
                await _walk_through(page, base, settings)
            except BaseException:
                await page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
                raise
        finally:
            await browser.close()


async def _walk_through(page, base: str, settings) -> None:
    await page.goto(f"{base}/console/detection")
    await expect(page.locator("#signed-out")).to_be_visible()  # nothing shown before sign-in

    await page.goto(f"{base}/console")
    await page.fill("#login-form input[name=login]", "kim")
    await page.fill("#login-form input[name=password]", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#app")).to_be_visible()

    await page.goto(f"{base}/console/detection")
    queue = page.locator("#queue button")
    await expect(queue).to_have_count(4)
    await expect(queue.first.locator(".badge.youth")).to_have_text("청소년")  # youth first
    stats = page.locator("#stats-table")
    await expect(stats.locator("td[data-key=total]")).to_have_text("0")
    await expect(page.locator("#stats-extra")).to_contain_text("검토 대기 4건")

    await queue.first.click()
    original = page.locator("#original")
    await expect(original).to_contain_text("고딩 민짜 환영 조건만남")
    marks = original.locator("mark.hit")
    texts = await marks.all_text_contents()
    assert {"고딩", "민짜", "조건만남", "10만", "young_tg"} <= set(texts), texts
    await expect(original.locator("mark.hit.age").first).to_have_text("고딩")
    await expect(page.locator("#indicators")).to_contain_text("연령 단서: 고딩, 민짜")

    await page.select_option("#decide select", "outcall")
    await page.click("#approve")
    await expect(page.locator("#alert")).to_have_text("승인했어요.")
    await expect(queue).to_have_count(3)
    await expect(stats.locator("td[data-key=outcall]")).to_have_text("1")
    await expect(stats.locator("td[data-key=total]")).to_have_text("1")
    await expect(stats.locator("td[data-key=not_requested]")).to_have_text("1")

    # The news-like office post is not in the queue (classified clear); reject the venue ad as a test.
    await page.locator("#queue button", has_text="오피").click()
    await expect(original).to_contain_text("강남 오피")
    await page.click("#reject")
    await expect(page.locator("#alert")).to_have_text("반려했어요.")
    await expect(queue).to_have_count(2)
    await expect(stats.locator("td[data-key=none]")).to_have_text("1")
    await expect(stats.locator("td[data-key=total]")).to_have_text("2")
    with store.session(settings) as s:  # the rejection is labelled data for `dasi detect retrain`
        feedback = [r for r in store.labelled(s) if r["category"] == "none"]
    assert len(feedback) == 1 and "강남 오피" in feedback[0]["text"]

    # Draft the report for the approved post (as `dasi detect report --batch` does), then a person
    # approves it in the page: only now does it count as 삭제요청.
    from detection.pipeline import reports
    with store.session(settings) as s, s.begin():
        assert len(reports.draft_batch(s, settings).reports) == 1
    await page.reload()
    row = page.locator("#reports tbody tr")
    await expect(row).to_have_count(1)
    await expect(row.locator("td").nth(3)).to_have_text("초안")
    await expect(stats.locator("td[data-key=requested]")).to_have_text("0")
    await row.locator("button", has_text="제출 승인").click()
    await expect(row.locator("td").nth(3)).to_have_text("제출됨")
    await expect(stats.locator("td[data-key=requested]")).to_have_text("1")
    await expect(stats.locator("td[data-key=not_requested]")).to_have_text("1")
