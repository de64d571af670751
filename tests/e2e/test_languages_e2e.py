"""Languages end to end: `dasi up` (real Rasa, action server, gateway and the trained risk model), the web
chat over HTTP and in headless Chromium, and the console. Per served language: a crisis gets its emergency
number and 1577-1366 in that language, high/critical, queued with the language; an ordinary question gets
the translated answer (a stand-in for the knowledge half's seam, tests/fakes/translated.py) or "a counsellor
will answer" in that language, queued with the language. Choosing a language in the page switches the
welcome and the privacy notice; the console shows the language and suggests a counsellor who speaks it.

The crisis messages below were written for this test (not taken from the training data)."""
from __future__ import annotations

import subprocess

import pytest
from playwright.async_api import expect

from tests.browser import CHROMIUM, PASSWORD, console_page, victim_page
from tests.conftest import ROOT
from tests.console_client import Staff
from tests.stack import DASI, Stack, running_with_counsellor

pytestmark = pytest.mark.e2e

CRISES = {
    "en": ("My boss locked me in the room and took my phone. He says he will hurt me if I leave.",
           "If you are in danger now"),
    "vi": ("Chủ quán khóa cửa nhốt em trong phòng, lấy điện thoại, nói nếu em bỏ trốn sẽ đánh em. Cứu em với",
           "Nếu bạn đang gặp nguy hiểm"),
    "th": ("นายจ้างล็อกห้องขังหนูไว้ ยึดโทรศัพท์ บอกว่าถ้าหนีจะทำร้ายหนู ช่วยด้วยค่ะ", "ถ้าตอนนี้คุณตกอยู่ในอันตราย"),
    "zh": ("老板把我锁在房间里，拿走了我的手机，说我要是逃跑就打我。救救我", "如果你现在有危险"),
    "ru": ("Хозяин запер меня в комнате, забрал телефон и говорит, что изобьёт, если я убегу. Помогите",
           "Если вам сейчас грозит опасность"),
    "tl": ("Kinulong ako ng amo ko sa kwarto, kinuha ang cellphone ko, sasaktan daw niya ako kapag tumakas ako. "
           "Tulungan nyo po ako", "Kung nasa panganib ka ngayon"),
}
ORDINARY = {  # (question, what the reply must contain)
    "en": ("Is it legal for my employer to keep my passport?", "[stand-in en]"),
    "vi": ("Chủ giữ hộ chiếu của em có đúng luật không ạ?", "[stand-in vi]"),
    "th": ("อยากทราบว่าเรียนภาษาเกาหลีฟรีได้ที่ไหนคะ", "เจ้าหน้าที่ให้คำปรึกษาจะตอบคุณที่นี่"),
    "zh": ("请问在韩国哪里可以免费学习韩语？", "咨询师会在这里直接回复你"),
    "ru": ("Подскажите, где можно бесплатно учить корейский язык?", "Консультант ответит вам здесь"),
    "tl": ("Saan po ako pwedeng mag-aral ng Korean nang libre?", "Sasagutin ka ng counsellor dito"),
}


class PatientStack(Stack):
    """The gateway loads the risk model, e5 and the language detector before it says it is up: on a shared
    machine that can take longer than tests/stack.py's 420 s."""

    def start(self) -> None:
        import time

        subprocess.run([str(DASI), "db", "upgrade"], env=self.env, check=True, cwd=ROOT)
        self.log = open(self.var.parent / "up.log", "wb")
        self.proc = subprocess.Popen([str(DASI), "up"], env=self.env, cwd=ROOT, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 1200
        while time.monotonic() < deadline and self.proc.poll() is None:
            if "dasi is running" in self.output():
                return
            time.sleep(1)
        gateway = self.var / "log" / "gateway.log"
        raise RuntimeError(f"dasi up did not come up:\n{self.output()}\n"
                           f"{gateway.read_text(errors='replace')[-3000:] if gateway.exists() else ''}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser part of this test does not skip.")
    s = PatientStack(tmp_path_factory.mktemp("languages"))
    s.env["DASI_RASA_TIMEOUT"] = "10"
    s.env["DASI_TRANSLATED_ANSWERS"] = "tests.fakes.translated:answer_in_language"
    s.env["PYTHONPATH"] = str(ROOT)  # the stand-in lives in tests/
    with running_with_counsellor(s, PASSWORD):
        yield s


def texts(data: dict) -> str:
    return "\n".join(r["text"] for r in data["replies"])


async def queue(stack: Stack) -> dict:
    staff = Staff(stack.url)
    try:
        assert (await staff.login("kim", password=PASSWORD, totp=None)).status == 200
        return await staff.json("GET", "/api/console/queue")
    finally:
        await staff.http.close()


@pytest.mark.parametrize("lang", list(CRISES))
def test_a_crisis_in_each_language(stack, lang):
    message, words = CRISES[lang]
    data = stack.say(f"e2e-crisis-{lang}", message)
    reply = texts(data)
    assert words in reply and "112" in reply and "1577-1366" in reply and "02-814-3660" in reply, reply
    assert data["risk"] in ("high", "critical") and data["state"] == "waiting" and data["language"] == lang


@pytest.mark.parametrize("lang", list(ORDINARY))
def test_an_ordinary_question_in_each_language(stack, lang):
    question, words = ORDINARY[lang]
    data = stack.say(f"e2e-ordinary-{lang}", question)
    assert words in texts(data), texts(data)
    assert data["risk"] not in ("high", "critical") and data["language"] == lang
    # Answered by the translated articles: the bot keeps it; else it waits for a counsellor.
    assert data["state"] == ("bot" if words.startswith("[stand-in") else "waiting")


async def test_the_queue_shows_each_language_and_who_speaks_it(stack):
    staff = Staff(stack.url)
    try:
        assert (await staff.login("kim", password=PASSWORD, totp=None)).status == 200
        me = await staff.json("POST", "/api/console/me/languages", {"languages": ["vi", "en"]})
        assert me["user"]["languages"] == ["vi", "en"]
        bad = await staff.post("/api/console/me/languages", {"languages": ["klingon"]})
        assert bad.status == 400
        waiting = {i["id"]: i for i in (await staff.json("GET", "/api/console/queue"))["waiting"]}
    finally:
        await staff.http.close()
    langs = {i["language"] for i in waiting.values()}
    assert {"vi", "th", "zh", "ru", "tl", "en"} <= langs
    vi = [i for i in waiting.values() if i["language"] == "vi"]
    assert vi and vi[0]["language_name"] == "베트남어"
    assert vi[0]["suggested"] == [{"login": "kim", "name": "김상담", "online": True}]
    assert all(i["suggested"] == [] for i in waiting.values() if i["language"] in ("th", "zh", "ru", "tl"))


async def test_choosing_a_language_switches_the_welcome_and_the_privacy_notice(stack, browser):
    page = await victim_page(browser, stack.url)
    await expect(page.locator(".msg.bot").first).to_contain_text("상담 챗봇")  # Korean first
    await page.select_option("#lang", "vi")
    await expect(page.locator(".msg.bot", has_text="Xin chào")).to_be_visible()
    await expect(page.locator("#notice")).to_contain_text("1577-1366")
    await expect(page.locator("#privacy")).to_have_text("Quyền riêng tư")
    await expect(page.locator("#send")).to_have_text("Gửi")
    await page.fill("#text", "what can I do if I am afraid")  # English written, Vietnamese chosen
    await page.click("#send")
    await expect(page.locator(".msg.bot", has_text="Nhân viên tư vấn sẽ trả lời bạn")).to_be_visible()
    await page.click("#privacy")
    await expect(page.locator("h1")).to_have_text("Quyền riêng tư")
    await expect(page.locator("li").nth(2)).to_contain_text("Điều 30")
    await page.go_back()
    await expect(page.locator("#lang")).to_have_value("vi")  # the choice stays for this tab


async def test_the_console_shows_the_language_and_the_suggested_counsellor(stack, browser):
    stack.say("e2e-console-vi", "Chủ quán không trả lương cho em mấy tháng rồi, em phải làm sao?")
    console = await console_page(browser, stack.url)
    item = console.locator("#queue-waiting li", has_text="베트남어").first
    await expect(item).to_be_visible()
    await expect(item.locator(".suggested")).to_contain_text("김상담 (접속 중)")
    await item.click()
    await expect(console.locator("#conv-badges")).to_contain_text("베트남어")
