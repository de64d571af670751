"""The knowledge admin in a real headless Chromium against the real gateway on a real port: sign in,
edit an article, see the answer preview per channel, publish, then history, diff and revert; the file
on disk and the knowledge index are checked after each step."""
import asyncio
import re
import shutil
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from assistant.core.settings import get_settings
from assistant.store.db import sessionmaker
from assistant.store.migrate import upgrade
from casebook.staff import accounts
from connectors.gateway import create_app
from knowledge.index import KnowledgeIndex, build
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import ROOT, free_port, serve

pytestmark = pytest.mark.usefixtures("cheap_hashes")  # test accounts: argon2 at its lowest cost

PASSWORD = "편집자-비밀번호-2026"
ARTICLE = "centre-free"  # a draft
PHRASE = "해바라기 도서관 앞 보라색 우체통에서 만나요."


def with_phrase(text: str) -> str:
    head, body = text.split("\n---\n", 1)
    return f"{head}\n---\n{PHRASE}\n\n{body}"


@pytest.fixture
async def gateway(env, tmp_path):
    """The real gateway app on a free port, with its own database, article copy and index."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install -y chromium`; "
                    ".ci/run does this). The browser test does not skip.")
    shutil.copytree(ROOT / "knowledge" / "articles", tmp_path / "articles")
    env(DASI_KNOWLEDGE_DIR=str(tmp_path / "articles"), DASI_CHROMA_DIR=str(tmp_path / "chroma"),
        DASI_INDEX_DIR=str(tmp_path / "knowledge"),
        DASI_EMBEDDINGS="hashing",  # fast to build; this test is about the edit reaching the index
        DASI_RASA_URL=f"http://127.0.0.1:{free_port()}", DASI_ACTIONS_URL=f"http://127.0.0.1:{free_port()}")
    settings = get_settings()
    upgrade()
    async with sessionmaker()() as s, s.begin():
        await accounts.create_user(s, "minji", "민지", "editor", PASSWORD)
    await asyncio.get_running_loop().run_in_executor(None, build, settings)
    async with serve(create_app(settings)) as url:
        yield settings, url


async def search(settings, query: str) -> list[str]:
    hits = await asyncio.get_running_loop().run_in_executor(None, lambda: KnowledgeIndex(settings).search(query, k=3))
    return [h.article.id for h in hits]


async def test_staff_edit_preview_publish_history_and_revert(gateway, tmp_path):
    settings, base = gateway
    path = settings.knowledge_dir / f"{ARTICLE}.md"
    original = path.read_text(encoding="utf-8")
    assert ARTICLE not in await search(settings, PHRASE)

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1024, "height": 1300}, locale="ko-KR")
            page.set_default_timeout(20_000)
            page.on("dialog", lambda dialog: dialog.accept())  # the revert confirmation
            try:
                await _walk_through(page, base, settings, path, original)
            except BaseException:
                await page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
                raise
        finally:
            await browser.close()


async def _walk_through(page, base: str, settings, path: Path, original: str) -> None:
    # Signing in with a staff account: a wrong password is refused in Korean, the right one leads to the list.
    await page.goto(f"{base}/admin/knowledge")
    await expect(page).to_have_url(re.compile(r"/admin/login\?next="))
    await page.fill("input[name=login]", "minji")
    await page.fill("input[name=password]", "wrong-password")
    await page.click("form.login button[type=submit]")
    await expect(page.locator(".error")).to_contain_text("아이디나 비밀번호가 맞지 않아요")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form.login button[type=submit]")
    await expect(page.locator("h1")).to_have_text("지식베이스 글")

    # Find the article and open it.
    await page.fill("input[name=q]", "상담받는 데 돈이")
    await page.click("form.search button[type=submit]")
    await expect(page.locator("table.list tbody tr")).to_have_count(1)
    await page.click(f"a[href='/admin/knowledge/{ARTICLE}/edit']")
    await expect(page.locator("h1")).to_have_text("글 편집")
    editor = page.locator("#content")
    assert await editor.input_value() == original

    # A mistake is shown with its line while typing, and clicking it puts the cursor on that line.
    await editor.fill(original.replace("category: centre", "category: sports"))
    errors = page.locator("#preview .errors")
    await expect(errors).to_contain_text("4번째 줄")
    await errors.locator("a[data-line]").click()
    await expect(page.locator("#caret")).to_contain_text("4번째 줄")

    # The edited body appears in the answer preview of every channel.
    await editor.fill(with_phrase(original))
    await page.click("#preview-now")
    for channel in ("web", "kakao", "instagram"):
        await expect(page.locator(f"[data-channel={channel}] .bubble")).to_contain_text(PHRASE)

    # Publish: the file is written and the index answers from the new text.
    await page.click("button[name=op][value=publish]")
    await expect(page.locator(".notice")).to_contain_text("게시했어요")
    await expect(page.locator(".meta .badge")).to_have_text("게시됨")
    assert path.read_text(encoding="utf-8") == with_phrase(original).replace("status: draft", "status: published")
    assert ARTICLE in await search(settings, PHRASE)

    # History: the diff shows the new line; revert to the version before the edit.
    await page.click("text=변경 기록")
    await expect(page.locator("table.diff .diff_add").first).to_be_visible()
    await expect(page.locator("table.diff")).to_contain_text("우체통에서")
    rows = page.locator("table.history tbody tr")
    await expect(rows).to_have_count(2)  # the file as it was, then the publish
    await expect(rows.first).to_contain_text("minji")
    await rows.filter(has_text="기존 파일").locator("button", has_text="이 버전으로 되돌리기").click()
    await expect(page.locator(".notice")).to_contain_text("되돌렸어요")
    await expect(page.locator(".meta .badge")).to_have_text("초안")
    assert path.read_text(encoding="utf-8") == original
    assert ARTICLE not in await search(settings, PHRASE)  # a draft again, so out of the index
    assert await page.locator("#content").input_value() == original
