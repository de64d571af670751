"""Citizen reports through the real gateway, on SQLite and PostgreSQL: the receipt and its status as
staff decide, duplicates merged, the link fetched through the safe fetcher (a local fake site), a minor
handed to the counsellor queue, the statistics, and nothing about the reporter stored."""
from __future__ import annotations

import asyncio
import io
import json
from datetime import datetime
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestServer
from PIL import Image
from sqlalchemy import func, select, text

from assistant.core.clock import KST
from assistant.core.settings import get_settings
from assistant.store.db import make_sync_engine, sessionmaker
from assistant.store.migrate import upgrade
from casebook.models import Conversation, ConversationEvent
from casebook.staff import accounts
from casebook.stats import queries as stats
from connectors.gateway import create_app
from detection.citizen import stats as citizen_stats
from detection.citizen import worker as citizen_worker
from detection.citizen.tables import CitizenItem, CitizenReport
from detection.pipeline import reports
from detection.pipeline.evidence import EvidenceStore
from detection.storage import queries as store
from detection.storage.tables import DetectedPost
from tests.conftest import free_port, serve
from tests.console_client import PASSWORD, Staff
from tests.detection.citizen_helpers import fake_site, form, jpeg_with_gps, png
from tests.detection.test_detection_pipeline import FakeClassifier

pytestmark = pytest.mark.usefixtures("cheap_hashes")
AGENT = "CitizenTestAgent/1.0 (device-xyz)"
AD = "강남 출장 조건만남 010-1234-5678 카톡 young_tg 10만"
PAGE = "<html><head><script>var x='비밀';</script></head><body><h1>오늘밤 출장 조건 가능</h1>" \
       "<p>텔레 @young_tg 로 연락</p></body></html>"


@pytest.fixture
async def citizen(env, database_url):
    env(DASI_DATABASE_URL=database_url, DASI_RASA_URL=f"http://127.0.0.1:{free_port()}",
        DASI_ACTIONS_URL=f"http://127.0.0.1:{free_port()}", DASI_RASA_TIMEOUT="1")
    upgrade()
    async with sessionmaker()() as s, s.begin():
        await accounts.create_user(s, "kim", "김상담", "counsellor", PASSWORD)
    async with serve(fake_site({"/ad": PAGE})) as site:
        app = create_app(get_settings())
        app[citizen_worker.TEST_CLASSIFIER] = FakeClassifier()
        app[citizen_worker.TEST_FETCH_ALLOW] = ("127.0.0.0/8",)
        server = TestServer(app)
        await server.start_server()
        base = str(server.make_url("")).rstrip("/")
        staff = Staff(base)
        public = Staff(base)  # a person reporting: no sign-in
        public.http.headers["User-Agent"] = AGENT
        try:
            yield SimpleNamespace(app=app, base=base, site=site, staff=staff, public=public,
                                  settings=get_settings(), worker=lambda: app[citizen_worker.WORKER])
        finally:
            await staff.http.close()
            await public.http.close()
            await server.close()


async def submit(c, fields: dict, files=(), status: int = 201) -> dict:
    resp = await c.public.http.post(f"{c.base}/api/report", data=form(fields, files))
    body = await resp.json()
    assert resp.status == status, body
    return body


async def lookup(c, code: str, status: int = 200) -> dict:
    resp = await c.public.http.post(f"{c.base}/api/report/status", json={"code": code})
    body = await resp.json()
    assert resp.status == status, body
    return body


def count(settings, model) -> int:
    with store.session(settings) as s:
        return s.scalar(select(func.count()).select_from(model))


async def test_report_to_review_and_back_to_the_receipt(citizen):
    c = citizen
    r = await submit(c, {"type": "online", "url": f"{c.site}/ad", "text": AD, "place": "강남구", "when": "어제 밤",
                         "description": "트위터에서 봤어요"}, [("shot.png", png(), "image/png")])
    assert r["status"] == "received" and len(r["receipt"]) == 14 and not r["merged"]
    assert (await lookup(c, r["receipt"]))["label"] == "접수됨"
    await c.worker().run_once()  # the background loop may have done it already
    with store.session(c.settings) as s:
        post = s.scalar(select(DetectedPost).where(DetectedPost.source == "citizen"))
        assert post.status == "flagged" and post.url == f"{c.site}/ad"
        assert "오늘밤 출장 조건 가능" in post.text and "비밀" not in post.text  # the page, without its script
        assert post.evidence_seq is not None
        item = s.scalar(select(CitizenItem))
        assert item.post_id == post.id and item.fetch == "http:200"
        post_id = post.id
    entry = EvidenceStore.for_settings(c.settings).entries()[-1]
    assert {f["kind"] for f in entry["files"]} == {"screenshot", "capture"}

    await c.staff.login("kim")
    queue = await c.staff.json("GET", "/api/detection/queue?source=citizen")
    assert [p["id"] for p in queue["posts"]] == [post_id] and queue["posts"][0]["citizen"] is True
    detail = await c.staff.json("GET", f"/api/detection/posts/{post_id}")
    assert detail["citizen_report"]["count"] == 1
    assert detail["citizen_report"]["reports"][0]["description"] == "트위터에서 봤어요"

    await c.staff.json("POST", f"/api/detection/posts/{post_id}/decision", {"decision": "approve",
                                                                          "category": "outcall"})
    assert (await lookup(c, r["receipt"]))["label"] == "검토 완료"
    with store.session(c.settings) as s, s.begin():
        [report_id] = reports.draft_batch(s, c.settings).reports
    assert (await lookup(c, r["receipt"]))["status"] == "reviewed"  # a draft is not a report yet
    await c.staff.json("POST", f"/api/detection/reports/{report_id}/approve", {})
    assert (await lookup(c, r["receipt"]))["label"] == "신고함"

    async def gone(url):
        return 404, ""
    with store.session(c.settings) as s, s.begin():
        await reports.recheck(s, gone)
    result = await lookup(c, r["receipt"])
    assert result["status"] == "deleted" and result["label"] == "삭제됨"

    today = datetime.now(KST).date()
    async with sessionmaker()() as s:
        result = await stats.compute(s, stats.Period(today.replace(month=1, day=1), today), [citizen_stats.tables])
        table = result.table("citizen_reports")
    assert table.row("온라인 광고")[1] == 1 and table.row("온라인 광고")[table.columns.index("삭제됨(건)")] == 1


async def test_a_link_that_cannot_be_fetched_keeps_the_report(citizen):
    c = citizen
    r = await submit(c, {"type": "online", "url": f"{c.site}/missing", "text": AD})
    r2 = await submit(c, {"type": "online", "url": "http://10.0.0.1/admin", "text": "다른 광고 문구 조건 카톡 abc"})
    await c.worker().run_once()
    with store.session(c.settings) as s:
        fetches = sorted(s.scalars(select(CitizenItem.fetch)))
        posts = s.scalars(select(DetectedPost).order_by(DetectedPost.id)).all()
    assert fetches == ["http:404", "refused:address"] or fetches[0] == "http:404" and fetches[1].startswith("refused")
    assert AD in posts[0].text and posts[1].status == "flagged"
    assert (await lookup(c, r["receipt"]))["status"] == (await lookup(c, r2["receipt"]))["status"] == "received"


async def test_duplicates_merge_into_one_item_each_with_its_own_receipt(citizen):
    c = citizen
    a = await submit(c, {"type": "online", "url": "https://www.example.org/ad/?utm_source=x"})
    b = await submit(c, {"type": "sms", "url": "https://example.org/ad", "description": "문자로도 왔어요"})
    t1 = await submit(c, {"type": "sms", "text": "오빠 조건  만남 010 1111 2222"})
    t2 = await submit(c, {"type": "sms", "text": "오빠 조건 만남 010 1111 2222 "})
    assert not a["merged"] and b["merged"] and not t1["merged"] and t2["merged"]
    assert len({a["receipt"], b["receipt"], t1["receipt"], t2["receipt"]}) == 4
    with store.session(c.settings) as s:
        assert sorted(s.scalars(select(CitizenItem.report_count))) == [2, 2]
    for r in (a, b, t1, t2):
        assert (await lookup(c, r["receipt"]))["status"] == "received"
    c.app[citizen_worker.TEST_FETCH_ALLOW] = ()
    await c.worker().run_once()
    assert count(c.settings, DetectedPost) == 2  # one review item per merged report


async def test_a_minor_in_danger_also_goes_to_the_counsellor_queue(citizen):
    c = citizen
    await submit(c, {"type": "school", "text": "학교 앞에서 알바 전단지 나눠줘요 중학생 15살 애들한테 카톡 주래요"})
    await submit(c, {"type": "print", "text": "전단지 업소 광고 안마 010-2222-3333", "minor": "on"})
    await submit(c, {"type": "other", "text": "그냥 이상한 광고 같아요 확인 부탁"})
    await c.worker().run_once()
    async with sessionmaker()() as s:
        convs = (await s.scalars(select(Conversation).where(Conversation.channel == "citizen"))).all()
        assert len(convs) == 2 and all(cv.state == "waiting" and cv.youth and cv.risk == "high" for cv in convs)
        reasons = (await s.scalars(select(ConversationEvent.detail).where(ConversationEvent.kind == "state"))).all()
        assert all(d["reason"] == "citizen_report_minor" for d in reasons) and len(reasons) == 2
    await c.staff.login("kim")
    queue = await c.staff.json("GET", "/api/console/queue")
    waiting = [q for q in json.loads(json.dumps(queue)).get("waiting", []) if q["channel"] == "citizen"]
    assert len(waiting) == 2
    await c.worker().run_once()  # handed over once only
    async with sessionmaker()() as s:
        assert await s.scalar(select(func.count()).select_from(Conversation)) == 2


async def test_nothing_about_the_reporter_is_stored(citizen):
    c = citizen
    await submit(c, {"type": "venue", "text": AD, "place": "마포구"}, [("a.png", png(), "image/png")])
    engine = make_sync_engine(c.settings.database_url)
    try:
        with engine.connect() as conn:
            rows = [dict(r._mapping) for t in ("citizen_items", "citizen_reports")
                    for r in conn.execute(text(f"SELECT * FROM {t}"))]
            columns = {k for r in rows for k in r}
    finally:
        engine.dispose()
    assert columns == {"id", "kind", "url_key", "text_key", "report_count", "minor", "created_at", "post_id",
                       "processed_at", "fetch", "conversation_id", "receipt_key", "item_id", "channel", "content",
                       "screenshots", "conversation"}  # no address, user agent or device column
    flat = json.dumps(rows, default=str, ensure_ascii=False)
    assert "127.0.0.1" not in flat and "CitizenTestAgent" not in flat and "device-xyz" not in flat
    assert AD not in flat and "마포구" not in flat  # the content is encrypted at rest
    with store.session(c.settings) as s:
        report = s.scalar(select(CitizenReport))
        assert set(report.content) == {"url", "text", "place", "when", "description"}
        assert report.channel == "web" and report.conversation is None


async def test_exif_is_stripped_from_stored_screenshots(citizen):
    c = citizen
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the test image does carry GPS
    await submit(c, {"type": "online", "text": AD}, [("photo.png", original, "image/png")])  # name/type lie
    with store.session(c.settings) as s:
        [shot] = s.scalar(select(CitizenReport)).screenshots
    stored = EvidenceStore.for_settings(c.settings).read_file(shot["sha256"])
    img = Image.open(io.BytesIO(stored))
    assert img.format == "JPEG" and shot["type"] == "jpeg"  # sniffed from the bytes, not the name
    assert not img.getexif() and not img.getexif().get_ifd(0x8825) and b"Exif" not in stored
    assert b"PhoneMaker" not in stored and "icc_profile" not in img.info
    on_disk = EvidenceStore.for_settings(c.settings).blob_path(shot["sha256"]).read_bytes()
    assert on_disk[:4] != stored[:4]  # encrypted


def _bomb() -> bytes:
    b = io.BytesIO()
    Image.new("1", (12000, 12000)).save(b, "PNG")  # 144 megapixels in a few kilobytes
    return b.getvalue()


@pytest.mark.parametrize(("files", "status", "message"), [
    ([("a.gif", b"GIF89a" + b"\0" * 100, "image/gif")], 415, "PNG, JPEG, WEBP 파일만"),
    ([("big.png", b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 1024 * 1024 + 10), "image/png")], 413, "5MB 이하"),
    ([(f"{i}.png", png(), "image/png") for i in range(6)], 413, "5장까지"),
    ([("fake.png", b"this is not an image at all, only text", "image/png")], 415, "PNG, JPEG, WEBP 파일만"),
    ([("broken.png", png()[:60], "image/png")], 400, "읽을 수 없어요"),
    ([("bomb.png", _bomb(), "image/png")], 413, "너무 커요"),
    ([("ok.png", png(), "image/png"), ("bad.png", b"nope", "image/png")], 415, "PNG, JPEG, WEBP"),
])
async def test_bad_uploads_are_refused_with_nothing_stored(citizen, files, status, message):
    c = citizen
    body = await submit(c, {"type": "online", "text": AD}, files, status=status)
    assert message in body["message"], body
    assert count(c.settings, CitizenReport) == count(c.settings, CitizenItem) == 0
    files_dir = EvidenceStore.for_settings(c.settings).root / "files"
    assert not files_dir.exists() or not any(p.is_file() for p in files_dir.rglob("*"))


@pytest.mark.parametrize(("fields", "message"), [
    ({"text": AD}, "유형을 골라"),
    ({"type": "online"}, "하나는 꼭"),
    ({"type": "online", "url": "javascript:alert(1)"}, "http:// 또는 https://"),
    ({"type": "online", "text": "가" * 3001}, "너무 길어요"),
])
async def test_incomplete_forms_get_a_korean_error(citizen, fields, message):
    body = await submit(citizen, fields, status=413 if "너무" in message else 400)
    assert message in body["message"]
    assert count(citizen.settings, CitizenReport) == 0


async def test_a_failed_transaction_leaves_no_files(citizen, monkeypatch):
    c = citizen
    from detection.citizen import service

    def broken(*a, **k):
        raise RuntimeError("database gone")
    monkeypatch.setattr(service, "receipt_key", broken)
    resp = await c.public.http.post(f"{c.base}/api/report", data=form({"type": "online", "text": AD},
                                                                       [("a.png", png(), "image/png")]))
    assert resp.status == 500
    files_dir = EvidenceStore.for_settings(c.settings).root / "files"
    assert not files_dir.exists() or not any(p.is_file() for p in files_dir.rglob("*"))
    assert count(c.settings, CitizenItem) == 0


async def test_submits_are_rate_limited_per_address(citizen):
    c = citizen
    for i in range(5):
        await submit(c, {"type": "other", "text": f"광고 제보 번호 {i} 입니다 확인"})
    body = await submit(c, {"type": "other", "text": "여섯 번째 제보 입니다 확인"}, status=429)
    assert "잠시 뒤에" in body["message"]
    assert count(c.settings, CitizenReport) == 5


async def test_a_wrong_code_gets_one_answer_and_lookups_are_limited(citizen):
    c = citizen
    real = (await submit(c, {"type": "other", "text": AD}))["receipt"]
    answers = [await lookup(c, code, status=404) for code in ("AAAA-BBBB-CCCC", "x", "", real[:-1] + "Z"
                                                             if not real.endswith("Z") else real[:-1] + "Y")]
    assert len({json.dumps(a, ensure_ascii=False) for a in answers}) == 1
    assert "찾은 제보가 없어요" in answers[0]["message"]
    assert (await lookup(c, real.lower().replace("-", " ")))["status"] == "received"  # typed loosely
    for _ in range(20 - 5):
        await lookup(c, "AAAA-BBBB-CCCC", status=404)
    assert (await lookup(c, real, status=429))["error"] == "rate_limited"


async def test_the_pages_have_the_quick_exit_and_no_cache(citizen):
    c = citizen
    for path in ("/report", "/report/status"):
        resp = await c.public.http.get(c.base + path)
        page = await resp.text()
        assert resp.status == 200 and 'id="exit"' in page and "빠른 나가기" in page
        assert resp.headers["Cache-Control"] == "no-store" and "frame-ancestors 'none'" in \
            resp.headers["Content-Security-Policy"]
    await asyncio.sleep(0)
