"""The outreach page in a real headless Chromium against the real gateway with the X channel on (a fake X
API speaking X's wire format): a counsellor signs in, reads new youth-flagged posts into drafts, sees the
warning and guidance drafts, approves one → the fake X receives exactly that reply; the board's draft is
approved and marked posted by hand; an editor's approval is refused (403) and sends nothing."""
from __future__ import annotations

import aiohttp
import pytest
from playwright.async_api import async_playwright, expect

from assistant.core.settings import get_settings
from assistant.store.migrate import upgrade
from connectors.gateway import create_app
from detection.outreach import templates
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import free_port, serve
from tests.detection import outreach_helpers as h
from tests.fakes import harness
from tests.fakes.x import FakeX

pytestmark = pytest.mark.usefixtures("cheap_hashes")


@pytest.fixture
async def gateway(env, tmp_path):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium. The browser test does not skip.")
    fake = FakeX(harness.X_TOKEN, harness.X_BOT)
    async with serve(fake.app()) as x_url:
        env(DASI_DETECT_SOURCES=str(tmp_path / "sources.yml"), DASI_OUTREACH_DRY_RUN="0",
            DASI_RASA_URL=f"http://127.0.0.1:{free_port()}", DASI_ACTIONS_URL=f"http://127.0.0.1:{free_port()}",
            X_CLIENT_SECRET=harness.X_CLIENT, X_USER_ACCESS_TOKEN=harness.X_TOKEN, X_BOT_USER_ID=harness.X_BOT,
            X_API_BASE=x_url)
        settings = get_settings()
        upgrade()
        assert await h.seed(settings, tmp_path) == 6
        await h.add_staff(settings)
        async with serve(create_app(settings)) as url:
            yield settings, url, fake


async def test_an_editor_cannot_approve(gateway):
    settings, base, fake = gateway
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(f"{base}/api/console/login", json={"login": "kim", "password": h.PASSWORD}) as resp:
            csrf = (await resp.json())["csrf_token"]
        async with http.post(f"{base}/api/outreach/draft", headers={"X-CSRF-Token": csrf}) as resp:
            assert resp.status == 200
    wid = h.draft_id(settings.database_url, "1001", "warning")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(f"{base}/api/console/login", json={"login": "ed", "password": h.PASSWORD}) as resp:
            csrf = (await resp.json())["csrf_token"]
        async with http.post(f"{base}/api/outreach/drafts/{wid}/approve", headers={"X-CSRF-Token": csrf}) as resp:
            assert resp.status == 403
    assert fake.sent == [] and fake.calls == 0


async def test_staff_approve_a_draft_and_x_receives_it(gateway, tmp_path):
    settings, base, fake = gateway
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 1200}, locale="ko-KR")
            page.set_default_timeout(20_000)
            page.on("dialog", lambda dialog: dialog.accept())
            try:
                await _walk_through(page, base, settings, fake)
            except BaseException:
                await page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
                raise
        finally:
            await browser.close()


async def _walk_through(page, base: str, settings, fake) -> None:
    await page.goto(f"{base}/console/outreach")
    await expect(page.locator("#signed-out")).to_be_visible()  # nothing shown before sign-in
    await page.goto(f"{base}/console")
    await page.fill("#login-form input[name=login]", "kim")
    await page.fill("#login-form input[name=password]", h.PASSWORD)
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#app")).to_be_visible()

    await page.goto(f"{base}/console/detection")
    await page.click("a[href='/console/outreach']")  # the review page links to outreach
    await expect(page.locator("#mode")).to_contain_text("발송 켜짐")
    drafts = page.locator("#drafts li.draft")
    await expect(drafts).to_have_count(0)
    await page.click("#draft-now")
    await expect(page.locator("#alert")).to_contain_text("글 5건을 읽고 초안 9건을 만들었어요")
    await expect(drafts).to_have_count(9)
    assert fake.sent == []  # drafts are not messages: nothing leaves before an approval

    warning = templates.get("warning").render(settings)
    wid = h.draft_id(settings.database_url, "1001", "warning")
    card = page.locator(f"#drafts li.draft[data-id='{wid}']")
    await expect(card.locator(".badge.warning")).to_have_text("경고")
    await expect(card.locator("textarea.message")).to_have_value(warning)
    await expect(card.locator(".post")).to_contain_text("고딩 민짜 환영")
    teen = page.locator(f"#drafts li.draft[data-id='{h.draft_id(settings.database_url, '1004', 'guidance_self')}']")
    await expect(teen.locator(".badge.minor")).to_have_text("미성년자로 보임")

    await card.locator("button.approve").click()
    await expect(page.locator("#alert")).to_have_text("승인했고 보냈어요.")
    await expect(drafts).to_have_count(8)  # the sent one leaves the open list
    assert fake.replies == [{"text": warning, "reply": {"in_reply_to_tweet_id": "1001"}}]
    await expect(page.locator("#ostats td[data-key='경고 발송']")).to_have_text("1")

    board = page.locator(f"#drafts li.draft[data-id='{h.draft_id(settings.database_url, 'b1', 'warning')}']")
    await expect(board).to_contain_text("직접 게시")
    await board.locator("button.approve").click()
    await expect(page.locator("#alert")).to_contain_text("직접 게시한 뒤")
    await board.locator("button.posted").click()
    await expect(page.locator("#alert")).to_have_text("직접 게시한 것으로 기록했어요.")
    await expect(page.locator("#ostats td[data-key='그중 직접 게시']")).to_have_text("1")
    assert len(fake.sent) == 1  # hand posting sends nothing
