"""Translation review in a real headless Chromium against the real gateway: staff change a Korean article
in the editor, see its translations marked stale (and not served), open one beside the Korean with what
changed, edit it, mark it reviewed, and the assistant serves it again."""
import asyncio
import re
import shutil

import pytest
from playwright.async_api import async_playwright, expect

from assistant.core.settings import get_settings
from assistant.store.db import sessionmaker
from assistant.store.migrate import upgrade
from casebook.staff import accounts
from connectors.gateway import create_app
from knowledge import multilingual, translating
from knowledge.index import build
from knowledge.multilingual import answer_in_language
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import ROOT, free_port, serve

pytestmark = pytest.mark.usefixtures("cheap_hashes")

PASSWORD = "편집자-비밀번호-2026"
ARTICLE = "centre-contact"
OLD_KO, NEW_KO = "운영 시간은 전화로 확인해 주세요.", "운영 시간은 전화로 먼저 확인해 주세요."
OLD_EN, NEW_EN = "Please check the opening hours by phone.", "Please check the opening hours by phone first."
QUESTION = "What is the centre's phone number?"


@pytest.fixture
async def gateway(env, tmp_path):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install -y chromium`). "
                    "The browser test does not skip.")
    shutil.copytree(ROOT / "knowledge" / "articles", tmp_path / "articles")
    env(DASI_KNOWLEDGE_DIR=str(tmp_path / "articles"), DASI_CHROMA_DIR=str(tmp_path / "chroma"),
        DASI_INDEX_DIR=str(tmp_path / "knowledge"), DASI_EMBEDDINGS="hashing",
        DASI_RASA_URL=f"http://127.0.0.1:{free_port()}", DASI_ACTIONS_URL=f"http://127.0.0.1:{free_port()}")
    settings = get_settings()
    upgrade()
    async with sessionmaker()() as s, s.begin():
        await accounts.create_user(s, "minji", "민지", "editor", PASSWORD)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, build, settings)
    await loop.run_in_executor(None, multilingual.build, settings)
    async with serve(create_app(settings)) as url:
        yield settings, url


async def served(settings):
    return await asyncio.get_running_loop().run_in_executor(
        None, lambda: answer_in_language(QUESTION, "en", settings=settings))


async def test_staff_review_a_stale_translation_and_it_is_served_again(gateway, tmp_path):
    settings, base = gateway
    before = await served(settings)
    assert before and before.article_id == ARTICLE and OLD_EN in before.text
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 1300}, locale="ko-KR")
            page.set_default_timeout(60_000)  # a save re-indexes; the test machine is shared
            try:
                await _walk_through(page, base, settings)
            except BaseException:
                await page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
                raise
        finally:
            await browser.close()
    after = await served(settings)
    assert after and after.reviewed and NEW_EN in after.text and OLD_EN not in after.text


async def _walk_through(page, base: str, settings) -> None:
    await page.goto(f"{base}/admin/knowledge/{ARTICLE}/edit")
    await page.fill("input[name=login]", "minji")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form.login button[type=submit]")
    await expect(page.locator("h1")).to_have_text("글 편집")

    # Staff change the Korean article in the editor: every translation of it is now stale, none served.
    editor = page.locator("#content")
    await editor.fill((await editor.input_value()).replace(OLD_KO, NEW_KO))
    await page.click("button[name=op][value=save]")
    await expect(page.locator(".notice")).to_contain_text("저장했어요")
    assert await served(settings) is None

    # The translations overview marks them.
    await page.click("nav >> text=번역")
    row = page.locator("table.translations tr", has=page.locator(f"a[href='/admin/knowledge/{ARTICLE}/translations']"))
    await expect(row.locator("[data-status=stale]")).to_have_count(6)
    await expect(page.locator("p.warning")).to_contain_text("6개")

    # One language beside the Korean, with what changed in the Korean since it was translated.
    await row.locator(f"a[href='/admin/knowledge/{ARTICLE}/translations/en']").click()
    await expect(page.locator(".meta [data-status]")).to_have_attribute("data-status", "stale")
    await expect(page.locator(".warning.stale")).to_contain_text("원문이 번역한 뒤에 바뀌었어요")
    await expect(page.locator("section.korean pre")).to_contain_text(NEW_KO)
    await expect(page.locator("table.diff")).to_contain_text("먼저")

    # An edit alone keeps it stale; marking it reviewed makes it current.
    body = page.locator("#body")
    assert OLD_EN in await body.input_value()
    await body.fill((await body.input_value()).replace(OLD_EN, NEW_EN))
    await page.click("button[name=op][value=save]")
    await expect(page.locator(".notice")).to_contain_text("저장했어요")
    await expect(page.locator(".meta [data-status]")).to_have_attribute("data-status", "stale")
    assert await served(settings) is None
    await page.click("button[name=op][value=review]")
    await expect(page.locator(".notice")).to_contain_text("검토 완료로 표시했어요")
    await expect(page.locator(".meta [data-status]")).to_have_attribute("data-status", "current")
    await expect(page.locator("p.meta", has_text="검토:")).to_contain_text("user:minji")
    await expect(page.locator("ul.history li").first).to_contain_text("검토 완료")
    assert await page.locator("#body").input_value() == (await asyncio.get_running_loop().run_in_executor(
        None, translating.pair, settings, ARTICLE, "en")).translation.body

    # Back on the overview: English current, the five others still stale.
    await page.click("nav >> text=번역")
    await expect(row.locator("[data-status=stale]")).to_have_count(5)
    await expect(row.locator("[data-status=current]")).to_have_count(1)
    await expect(page).to_have_url(re.compile(r"/admin/knowledge/translations$"))
