"""What the browser tests share: headless Chromium (Debian's, offline flags), the whole stack as
`dasi up` starts it with a counsellor account, and the pages a victim and a counsellor use.
tests/conftest.py loads this module as a plugin: the fixtures `stack` and `browser` are available everywhere."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from tests.stack import Stack, running_with_counsellor

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "브라우저-테스트-비밀번호"
NEUTRAL = "https://search.naver.com/**"
# Records each browser notification the console raises (headless Chromium shows none).
NOTIFICATIONS_SEEN = """
window.__notified = [];
const RealNotification = window.Notification;
window.Notification = function (title, options) { window.__notified.push(title); \
return new RealNotification(title, options); };
window.Notification.requestPermission = RealNotification.requestPermission.bind(RealNotification);
Object.defineProperty(window.Notification, "permission", {get: () => RealNotification.permission});
"""
LIVE_WITHIN = 5_000  # ms: far below the 20 s polling fallback, so it came over the websocket


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does). The browser test does not skip.")
    s = Stack(tmp_path_factory.mktemp("console"))
    s.env["DASI_RASA_TIMEOUT"] = "10"  # CI machines are shared: the bot, not its fallback, should answer
    with running_with_counsellor(s, PASSWORD):
        yield s


@pytest.fixture
async def browser():
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


async def victim_page(browser, url: str):
    context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="ko-KR", is_mobile=True)
    page = await context.new_page()
    page.set_default_timeout(30_000)
    await page.route(NEUTRAL, lambda route: route.fulfill(body="<p>오늘 날씨</p>", content_type="text/html"))
    await page.goto(url)
    await expect(page.locator(".msg.bot").first).to_be_visible()  # the welcome
    return page


async def console_page(browser, url: str):
    context = await browser.new_context(viewport={"width": 1180, "height": 820}, locale="ko-KR")  # a tablet
    await context.grant_permissions(["notifications"])
    await context.add_init_script(NOTIFICATIONS_SEEN)
    page = await context.new_page()
    page.set_default_timeout(30_000)
    await page.goto(f"{url}/console")
    await page.fill("#login-form input[name=login]", "kim")
    await page.fill("#login-form input[name=password]", "틀린-비밀번호-입니다")
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#login-error")).to_contain_text("아이디나 비밀번호가 맞지 않아요")
    await page.fill("#login-form input[name=password]", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#me")).to_contain_text("김상담")
    await expect(page.locator("#live")).to_have_text("실시간")
    return page


async def ask_for_a_person(victim, console) -> tuple[str, float]:
    """Click the chat's own "상담원 연결" button; returns the new queue entry and seconds until it showed."""
    before = set(await console.locator("#queue-waiting li[data-id]").evaluate_all("els => els.map(e => e.dataset.id)"))
    started = time.monotonic()
    await victim.locator(".buttons button", has_text="상담원 연결").first.click()
    handle = await console.wait_for_function(
        "before => [...document.querySelectorAll('#queue-waiting li[data-id]')].map(e => e.dataset.id)"
        ".find(id => !before.includes(id)) || null", arg=list(before), polling="raf", timeout=30_000)
    elapsed = time.monotonic() - started
    # The action's reply with the queue position, or (Rasa too slow on a busy machine) the gateway's own.
    await expect(victim.locator(".msg.bot",
                                has_text=re.compile("상담원 연결을 요청(했어요|해 두었어요)"))).to_be_visible()
    return await handle.json_value(), elapsed
