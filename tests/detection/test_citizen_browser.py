"""The citizen report in a real headless Chromium on a phone, against the real gateway with the real
classifier and OCR: the form with a screenshot (Korean ad text rendered with Pillow + NanumGothic) →
the receipt shown big → the item in the review queue (a counsellor signed in) with its 시민제보 badge →
the counsellor approves it → the receipt status page shows 검토 완료. Prints the time from the submit
to the item in the review queue (the issue's closing note needs it)."""
from __future__ import annotations

import re
import shutil
import time

import pytest
from playwright.async_api import async_playwright, expect

from assistant.core.settings import get_settings
from assistant.store.db import sessionmaker
from assistant.store.migrate import upgrade
from casebook.staff import accounts
from connectors.gateway import create_app
from tests.browser import CHROMIUM, CHROMIUM_ARGS, NEUTRAL
from tests.conftest import free_port, serve
from tests.detection.citizen_helpers import FONT, png

PASSWORD = "시민제보-검토-비밀번호-7"
pytestmark = pytest.mark.skipif(not FONT.exists() or not shutil.which("tesseract"),
                                reason="needs fonts-nanum and tesseract-ocr-kor")


@pytest.fixture
async def gateway(env, tmp_path):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium. The browser test does not skip.")
    env(DASI_RASA_URL=f"http://127.0.0.1:{free_port()}", DASI_ACTIONS_URL=f"http://127.0.0.1:{free_port()}")
    settings = get_settings()
    upgrade()
    async with sessionmaker(settings.database_url)() as s, s.begin():
        await accounts.create_user(s, "kim", "김상담", "counsellor", PASSWORD)
    async with serve(create_app(settings)) as url:  # the real classifier, loaded by the worker on first use
        yield url


async def test_phone_report_with_a_screenshot_to_review_and_back(gateway, tmp_path):
    base = gateway
    shot = tmp_path / "캡처.png"
    shot.write_bytes(png("오늘밤 출장안마 24시 후불 카톡 mimi22"))
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            phone = await (await browser.new_context(viewport={"width": 390, "height": 844}, locale="ko-KR",
                                                     is_mobile=True, has_touch=True)).new_page()
            desk = await browser.new_context(viewport={"width": 1280, "height": 1000}, locale="ko-KR")
            staff = await desk.new_page()
            for p in (phone, staff):
                p.set_default_timeout(30_000)
            try:
                await _walk_through(phone, staff, base, str(shot))
            except BaseException:
                await phone.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
                await staff.screenshot(path=str(tmp_path / "staff.png"), full_page=True)
                raise
        finally:
            await browser.close()


async def _queue_ids(staff, base: str) -> list[int]:
    return await staff.evaluate("url => fetch(url, {credentials: 'same-origin'}).then(r => r.json())"
                                ".then(d => d.posts.filter(p => p.citizen).map(p => p.id))",
                                f"{base}/api/detection/queue?source=citizen")


async def _submit_and_time(phone, staff, base: str, before: int) -> tuple[str, float]:
    started = time.monotonic()
    await phone.click("#send")
    receipt = phone.locator("#receipt")
    await expect(receipt).to_have_text(re.compile(r"^[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}$"))
    deadline = started + 60
    while time.monotonic() < deadline and len(await _queue_ids(staff, base)) <= before:
        await staff.wait_for_timeout(100)
    elapsed = time.monotonic() - started
    assert len(await _queue_ids(staff, base)) == before + 1, "the report never reached the review queue"
    return await receipt.inner_text(), elapsed


async def _walk_through(phone, staff, base: str, shot: str) -> None:
    # The counsellor signs in first (the review page is theirs).
    await staff.goto(f"{base}/console")
    await staff.fill("#login-form input[name=login]", "kim")
    await staff.fill("#login-form input[name=password]", PASSWORD)
    await staff.click("#login-form button[type=submit]")
    await expect(staff.locator("#app")).to_be_visible()

    # A person on a phone: nothing chosen → a Korean error, nothing sent.
    await phone.goto(f"{base}/report")
    await expect(phone.locator("#exit")).to_be_visible()
    await phone.click("#send")
    await expect(phone.locator("#error")).to_have_text("제보 유형을 골라 주세요.")
    await phone.locator("label", has_text="온라인 광고").click()
    await phone.fill("#text", "트위터에서 본 광고예요")
    await phone.set_input_files("#shots", shot)
    await phone.fill("#place", "강남구")
    await phone.fill("#when", "어제 밤 11시쯤")
    await phone.fill("#description", "사진 속 계정이 계속 같은 광고를 올려요")
    code, cold = await _submit_and_time(phone, staff, base, 0)
    await expect(phone.locator("#done")).to_contain_text("제보가 접수됐어요")
    box = await phone.locator("#receipt").bounding_box()
    assert box and box["height"] >= 40  # shown big on the phone
    size = await phone.locator("#receipt").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 28

    # A second report right after (the classifier is loaded now): the steady-state figure.
    await phone.goto(f"{base}/report")
    await phone.locator("label", has_text="스팸 문자").click()
    await phone.fill("#text", "오빠 오늘 조건 어때 010-3333-4444 15만 모텔 가능")
    _, warm = await _submit_and_time(phone, staff, base, 1)
    print(f"\nsubmit → review queue: first report {cold:.2f} s (includes loading the classifier), "
          f"next report {warm:.2f} s")

    # The review page: the citizen badge and filter, OCR text from the screenshot, what the reporter wrote.
    await staff.goto(f"{base}/console/detection")
    await staff.check("#only-citizen")
    queue = staff.locator("#queue button")
    await expect(queue).to_have_count(2)
    item = queue.filter(has_text="트위터에서 본 광고")
    await expect(item.locator(".badge.citizen")).to_have_text("시민제보")
    await item.click()
    await expect(staff.locator("#citizen-block")).to_be_visible()
    await expect(staff.locator("#citizen-reports")).to_contain_text("사진 속 계정이 계속 같은 광고를 올려요")
    await expect(staff.locator("#citizen-reports")).to_contain_text("강남구")
    await expect(staff.locator("#ocr")).to_contain_text("mimi22")
    await staff.select_option("#decide select", "outcall")
    await staff.click("#approve")
    await expect(staff.locator("#alert")).to_have_text("승인했어요.")

    # The person checks the receipt: the staff decision shows.
    await phone.goto(f"{base}/report/status")
    await phone.fill("#code", code.lower())  # typed by hand, in lower case
    await phone.click("#lookup button[type=submit]")
    await expect(phone.locator("#label")).to_have_text("검토 완료")
    await expect(phone.locator("#steps li.on")).to_have_text("검토 완료")
    await phone.fill("#code", "AAAA-BBBB-CCCC")
    await phone.click("#lookup button[type=submit]")
    await expect(phone.locator("#error")).to_contain_text("찾은 제보가 없어요")

    # The quick exit leaves at once, out of the history.
    await phone.route(NEUTRAL, lambda route: route.fulfill(body="<p>오늘 날씨</p>", content_type="text/html"))
    await phone.click("#exit")
    await phone.wait_for_url(NEUTRAL)
