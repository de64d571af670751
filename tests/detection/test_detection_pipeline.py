"""Detection pipeline around the classifier: import scan with resume and dedupe, encryption at rest,
the evidence hash chain, clusters, report drafts and their lifecycle, review feedback, the CLI.

The classifier here is a small keyword double with the real `Verdict` shape: these tests are about
what happens to a verdict, not about how good it is (that is the classification core's suite)."""
from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, text

from assistant.core.settings import get_settings
from assistant.store.migrate import alembic_config, upgrade
from detection.classifier.classify import Verdict
from detection.pipeline import clusters, reports
from detection.pipeline.evidence import EvidenceStore
from detection.pipeline.scan import scan
from detection.pipeline.stats import stats
from detection.review import service as review
from detection.storage import queries as store
from detection.storage.tables import DetectedPost, DetectionReport, PostStatus, ReportStatus

PHONE = re.compile(r"01[016789]-?\d{3,4}-?\d{4}")
PRICE = re.compile(r"\d+(?:만원|만)")
KAKAO = re.compile(r"카톡\s*[:：]?\s*([A-Za-z0-9_]+)")
TELEGRAM = re.compile(r"텔레\s*[:：]?\s*@?([A-Za-z0-9_]+)")
RULES = [("outcall", re.compile(r"조건만남|출장안마")), ("venue", re.compile(r"오피|휴게텔")),
         ("recruit", re.compile(r"고수익\s*알바|유흥\s*알바"))]
AGE = re.compile(r"고딩|민짜|1[4-8]살")
ACT = re.compile(r"애인모드|후불")


class FakeClassifier:
    """Keyword rules with spans over the original text, like the real core reports them."""

    def __init__(self) -> None:
        self.calls = 0

    def classify_many(self, posts: Sequence[tuple[str, Sequence[str | bytes]]]) -> list[Verdict]:
        return [self.classify(text, images) for text, images in posts]

    def classify(self, text: str, images: Sequence[str | bytes] = ()) -> Verdict:
        self.calls += 1
        reasons, category = [], "none"
        for cat, rx in RULES:
            for m in rx.finditer(text):
                reasons.append({"kind": "rule", "rule": f"{cat}.{m.group(0)}", "span": [m.start(), m.end()],
                                "text": m.group(0)})
                category = category if category != "none" else cat
        age = [{"value": m.group(0), "span": [m.start(), m.end()]} for m in AGE.finditer(text)]
        contacts = [{"kind": "phone", "value": m.group(0), "span": [m.start(), m.end()]} for m in PHONE.finditer(text)]
        contacts += [{"kind": "kakao", "value": m.group(1), "span": [m.start(1), m.end(1)]}
                     for m in KAKAO.finditer(text)]
        contacts += [{"kind": "telegram", "value": m.group(1), "span": [m.start(1), m.end(1)]}
                     for m in TELEGRAM.finditer(text)]
        youth = bool(age) and category != "none"
        indicators = {"price": [{"value": m.group(0), "span": [m.start(), m.end()]} for m in PRICE.finditer(text)],
                      "act": [{"value": m.group(0), "span": [m.start(), m.end()]} for m in ACT.finditer(text)],
                      "age": age, "contacts": contacts}
        return Verdict(category=category, youth=youth, score=0.9 if category != "none" else 0.05, reasons=reasons,
                       indicators=indicators, normalised=" ".join(text.split()))


POSTS = [
    {"id": "a1", "platform": "x", "url": "https://x.example/a1", "account": "seller_one",
     "text": "조건만남 애인모드 15만 후불 카톡: deal77 010-1234-5678", "posted_at": "2026-11-20T10:00:00Z"},
    {"id": "a2", "platform": "x", "url": "https://x.example/a2", "account": "seller_two",
     "text": "조건만남 애인모드 20만 후불 카톡: deal77 문의 주세요", "posted_at": "2026-11-20T11:00:00Z"},
    {"id": "a3", "platform": "x", "url": "https://x.example/a3", "account": "kid_lure",
     "text": "고딩 민짜 환영 조건만남 용돈 10만 텔레 @young_tg", "posted_at": "2026-11-20T12:00:00Z"},
    {"id": "a4", "platform": "x", "url": "https://x.example/a4", "account": "news_desk",
     "text": "경찰, 온라인 성매매 광고 단속 결과 발표… 시민 신고 늘어", "posted_at": "2026-11-20T13:00:00Z"},
    {"id": "a5", "platform": "x", "url": "https://x.example/a5", "account": "office_ad",
     "text": "강남 오피 신규 20대 후불 010 9876 5432 예약", "posted_at": "2026-11-20T14:00:00Z"},
    # the same post as a1 again (a re-export): never stored twice
    {"id": "a1", "platform": "x", "url": "https://x.example/a1", "account": "seller_one",
     "text": "조건만남 애인모드 15만 후불 카톡: deal77 010-1234-5678", "posted_at": "2026-11-20T10:00:00Z"},
]


def write_sources(tmp_path: Path, sources: dict) -> Path:
    import yaml

    path = tmp_path / "sources.yml"
    path.write_text(yaml.safe_dump({"sources": sources}, allow_unicode=True), encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def pipeline(env, tmp_path):
    """Settings with a migrated SQLite database and one import source over POSTS."""
    write_jsonl(tmp_path / "batch.jsonl", POSTS)
    src = write_sources(tmp_path, {"batch": {"kind": "import", "path": "batch.jsonl", "batch": 2}})
    env(DASI_DETECT_SOURCES=str(src))
    settings = get_settings()
    upgrade()
    return settings


def count(settings) -> int:
    with store.session(settings) as s:
        return s.scalar(select(func.count()).select_from(DetectedPost))


async def test_import_resumes_after_restart_and_never_repeats(pipeline, tmp_path):
    settings = pipeline
    fake = FakeClassifier()
    first = await scan(settings, "batch", classifier=fake, max_batches=1)  # then the process "dies"
    assert (first.fetched, first.stored) == (2, 2)
    with store.session(settings) as s:
        assert store.get_cursor(s, "batch")["line"] == 2
    rest = await scan(settings, "batch", classifier=FakeClassifier())  # a new process
    assert rest.fetched == 4  # lines 3..6 only: the first two were not read again
    assert (rest.stored, rest.duplicates) == (3, 1)  # line 6 repeats line 1
    assert count(settings) == 5
    again = await scan(settings, "batch", classifier=FakeClassifier())
    assert (again.fetched, again.stored) == (0, 0)
    # A new export under another name with old and new posts: only the new one is stored.
    write_jsonl(tmp_path / "batch2.jsonl", POSTS[:2] + [{"id": "b1", "platform": "x", "text": "휴게텔 신규 오픈 5만"}])
    write_sources(tmp_path, {"batch": {"kind": "import", "path": "batch.jsonl"},
                             "batch2": {"kind": "import", "path": "batch2.jsonl"}})
    other = await scan(settings, "batch2", classifier=FakeClassifier())
    assert (other.stored, other.duplicates) == (1, 2)
    assert count(settings) == 6
    with store.session(settings) as s:
        statuses = dict(s.execute(select(DetectedPost.post_id, DetectedPost.status)).all())
    assert statuses["a4"] == PostStatus.clear and statuses["a3"] == PostStatus.flagged


async def test_same_content_under_a_new_id_is_a_duplicate(pipeline, tmp_path):
    settings = pipeline
    write_jsonl(tmp_path / "batch.jsonl", [POSTS[0], {**POSTS[0], "id": "other-id", "url": None}])
    result = await scan(settings, "batch", classifier=FakeClassifier())
    assert (result.stored, result.duplicates) == (1, 1)


async def test_text_and_accounts_are_encrypted_at_rest(pipeline):
    settings = pipeline
    await scan(settings, "batch", classifier=FakeClassifier())
    with store.engine(settings).connect() as conn:
        rows = conn.execute(text("SELECT text, account, url, verdict, category FROM detection_posts")).all()
    dump = json.dumps([list(r) for r in rows], ensure_ascii=False)
    assert "조건만남" not in dump and "seller_one" not in dump and "x.example" not in dump and "deal77" not in dump
    assert {r.category for r in rows} >= {"outcall", "venue", "none"}  # counts stay queryable


async def test_evidence_hashes_and_tampering_is_detected(pipeline):
    settings = pipeline
    result = await scan(settings, "batch", classifier=FakeClassifier())
    ev = EvidenceStore.for_settings(settings)
    entries = ev.entries()
    assert len(entries) == result.flagged == 4
    payload = ev.payload(entries[0])
    assert payload["text"].startswith("조건만남") and payload["indicators"]["price"][0]["value"] == "15만"
    assert payload["fetched_at_kst"].endswith("+09:00") and payload["posted_at_kst"] == "2026-11-20T19:00:00+09:00"
    capture = entries[0]["files"][0]
    import hashlib
    assert hashlib.sha256(ev.read_file(capture["sha256"])).hexdigest() == capture["sha256"]
    assert b"deal77" not in ev.blob_path(capture["sha256"]).read_bytes()  # stored encrypted
    with store.session(settings) as s:
        assert ev.verify(s) == []

    original = ev.log_path.read_text(encoding="utf-8")
    lines = original.splitlines(keepends=True)
    edited = json.loads(lines[1])
    edited["post"] = 999  # someone re-points an entry at another post
    ev.log_path.write_text(lines[0] + json.dumps(edited, ensure_ascii=False) + "\n" + "".join(lines[2:]),
                           encoding="utf-8")
    with store.session(settings) as s:
        assert any("line 2" in p and "edited" in p for p in ev.verify(s))

    ev.log_path.write_text("".join(lines[:-1]), encoding="utf-8")  # the last entry removed
    with store.session(settings) as s:
        assert any("truncated" in p for p in ev.verify(s))

    ev.log_path.write_text(original, encoding="utf-8")
    blob = ev.blob_path(capture["sha256"])
    blob.chmod(0o640)
    from assistant.store import crypto
    blob.write_bytes(crypto.cipher().encrypt(b'{"text": "something else"}'))
    with store.session(settings) as s:
        assert any("changed" in p for p in ev.verify(s))


def test_clusters_by_shared_contact_and_by_template():
    items = [
        (1, "조건만남 애인모드 15만 후불 연락 주세요 언제든지", [{"kind": "phone", "value": "010-1234-5678"}]),
        (2, "전혀 다른 문구의 광고 본문입니다 오늘만 할인", [{"kind": "phone", "value": "01012345678"}]),
        (3, "강남 오피 신규 20대 후불 예약 받아요 지금 바로", [{"kind": "kakao", "value": "Deal77"}]),
        (4, "강남 오피 신규 21대 후불 예약 받아요 지금 바로", [{"kind": "kakao", "value": "other1"}]),
        (5, "경찰 단속 결과 발표 시민 신고가 크게 늘었다고", []),
        (6, "휴게텔 오픈 이벤트", [{"kind": "kakao", "value": "@deal77"}]),
    ]
    got = clusters.group(items)
    assert got[1] == got[2] == 1  # same phone written two ways
    assert got[3] == got[4] == got[6] == 3  # template copy with another number; the same kakao id
    assert got[5] == 5 and len(set(got.values())) == 3


async def approve_all(settings) -> None:
    with store.session(settings) as s, s.begin():
        for p in s.scalars(select(DetectedPost).where(DetectedPost.status == PostStatus.flagged)).all():
            review.decide(s, p.id, "approve", "staff:kim")


async def test_reports_name_the_law_and_the_indicators(pipeline):
    settings = pipeline
    await scan(settings, "batch", classifier=FakeClassifier())
    await approve_all(settings)
    with store.session(settings) as s, s.begin():
        batch = reports.draft_batch(s, settings)
    # a1 and a2 share the kakao id: one campaign, one report; a3 (youth) and a5 alone.
    assert len(batch.reports) == 3
    with store.session(settings) as s:
        rs = {r.id: r for r in s.scalars(select(DetectionReport)).all()}
        youth = next(r for r in rs.values() if r.youth)
        campaign = next(r for r in rs.values() if r.post_count == 2)
    docs = {ch: (settings.var_dir / path).read_text(encoding="utf-8") for ch, path in youth.documents.items()}
    assert set(docs) == {"kcsc", "ecrm", "platform"}
    for doc in docs.values():
        assert "성매매처벌법) 제20조" in doc and "제44조의7" in doc
        assert "청소년성보호법) 제13조" in doc and "제15조의2" in doc
        assert "연령 단서: 고딩, 민짜" in doc and "가격: 10만" in doc and "telegram: young_tg" in doc
        assert "SHA-256" in doc and "KST" in doc
    assert "시정요구" in docs["kcsc"] and "방송통신위원회의 설치 및 운영에 관한 법률 제21조" in docs["kcsc"]
    assert "피의자 정보" in docs["ecrm"] and "kid_lure" in docs["ecrm"]
    camp = (settings.var_dir / campaign.documents["kcsc"]).read_text(encoding="utf-8")
    assert "대상 게시물 (2건)" in camp and "x.example/a1" in camp and "x.example/a2" in camp
    assert "제15조의2" not in camp  # no youth cue, no youth law
    with batch.csv_path.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and {r["URL"] for r in rows} >= {"https://x.example/a1", "https://x.example/a3"}
    assert all(r["법적 근거"].startswith("성매매알선") for r in rows)
    ws = load_workbook(batch.xlsx_path).active
    assert ws.max_row == 5 and ws.cell(1, 1).value == "신고번호"
    with store.session(settings) as s, s.begin():  # nothing left to draft: a second batch is empty
        assert reports.draft_batch(s, settings).reports == []


async def test_approve_submit_recheck_deleted(pipeline, aiohttp_fake=None):
    settings = pipeline
    await scan(settings, "batch", classifier=FakeClassifier())
    await approve_all(settings)
    with store.session(settings) as s, s.begin():
        batch = reports.draft_batch(s, settings)
    st = stats_now(settings)
    assert st["table"]["requested"] == 0 and st["reports"]["draft"] == 3
    with store.session(settings) as s, s.begin():
        with pytest.raises(reports.ReportError):
            reports.approve(s, batch.reports[0], "")  # a person must be named
        for rid in batch.reports:
            reports.approve(s, rid, "staff:kim")
        with pytest.raises(reports.ReportError):
            reports.approve(s, batch.reports[0], "staff:kim")  # only drafts
    st = stats_now(settings)
    assert st["table"]["requested"] == 4 and st["table"]["not_requested"] == 0 and st["reports"]["submitted"] == 3

    live = {"https://x.example/a1": (404, ""), "https://x.example/a2": (200, "<p>이 게시물은 삭제되었습니다</p>"),
            "https://x.example/a3": (410, ""),
            "https://x.example/a5": (200, "<div>강남 오피 신규 20대 후불 010 9876 5432 예약</div>")}
    seen = []

    async def fetch(url: str):
        seen.append(url)
        return live[url]

    with store.session(settings) as s, s.begin():
        counts = await reports.recheck(s, fetch)
    assert counts == {"deleted": 2, "not_deleted": 1} and sorted(seen) == sorted(live)
    with store.session(settings) as s:
        by_status = dict(s.execute(select(DetectionReport.post_count, DetectionReport.status)
                                   .where(DetectionReport.youth.is_(False))).all())
        assert by_status == {2: ReportStatus.deleted, 1: ReportStatus.not_deleted}
    seen.clear()
    live["https://x.example/a5"] = (404, "")
    with store.session(settings) as s, s.begin():
        assert await reports.recheck(s, fetch) == {"deleted": 1, "not_deleted": 0}
    assert seen == ["https://x.example/a5"]  # deleted reports are not fetched again
    assert stats_now(settings)["posts_deleted"] == 4


async def test_slang_only_report_is_not_approved_without_force(pipeline, tmp_path):
    settings = pipeline
    write_jsonl(tmp_path / "batch.jsonl", [{"id": "s1", "platform": "x", "text": "조건만남 ㄱㄱ 쪽지"}])
    await scan(settings, "batch", classifier=FakeClassifier())
    await approve_all(settings)
    with store.session(settings) as s, s.begin():
        batch = reports.draft_batch(s, settings)
        with pytest.raises(reports.ReportError, match="slang_only"):
            reports.approve(s, batch.reports[0], "staff:kim")
    doc = next(batch.directory.glob("*-kcsc.md")).read_text(encoding="utf-8")
    assert "명시적 지표가 없는 게시물 1건" in doc


def stats_now(settings) -> dict:
    with store.session(settings) as s:
        return stats(s)


async def test_review_queue_order_reject_feedback_and_stats(pipeline):
    settings = pipeline
    await scan(settings, "batch", classifier=FakeClassifier())
    with store.session(settings) as s:
        q = review.queue(s)
        assert [p.post_id for p in q][0] == "a3"  # youth first
        assert len(q) == 4
    before = stats_now(settings)
    assert before["pending"] == 4 and before["table"]["total"] == 0 and before["scanned"] == 5
    with store.session(settings) as s, s.begin():
        a5 = s.scalar(select(DetectedPost).where(DetectedPost.post_id == "a5"))
        review.decide(s, a5.id, "reject", "staff:lee")
        a1 = s.scalar(select(DetectedPost).where(DetectedPost.post_id == "a1"))
        review.decide(s, a1.id, "approve", "staff:lee")
        with pytest.raises(review.ReviewError):
            review.decide(s, a1.id, "reject", "staff:lee")
    after = stats_now(settings)
    assert after["pending"] == 2
    assert after["table"] == {"outcall": 1, "venue": 0, "recruit": 0, "none": 1, "not_requested": 2,
                              "requested": 0, "total": 2}
    with store.session(settings) as s:  # both decisions are labelled data for the next training run
        rows = {r["id"]: r for r in store.labelled(s)}
    assert rows == {f"review-{a5.id}": {"id": f"review-{a5.id}", "text": rows[f"review-{a5.id}"]["text"],
                                       "category": "none", "youth": False},
                    f"review-{a1.id}": {"id": f"review-{a1.id}", "text": rows[f"review-{a1.id}"]["text"],
                                       "category": "outcall", "youth": False}}
    assert rows[f"review-{a5.id}"]["text"].startswith("강남 오피")


def test_migration_down_and_up(env):
    from alembic import command

    settings = get_settings()
    upgrade()
    command.downgrade(alembic_config(settings.database_url), "0004")
    with store.engine(settings).connect() as conn:
        names = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))}
    assert not any(n.startswith("detection_") for n in names)
    upgrade()


def test_cli_scan_report_stats_verify(pipeline, monkeypatch, capsys):
    """The commands end to end on an imported batch, timed from scan start to exported drafts."""
    import time

    from assistant.cli.main import main
    from detection.pipeline import scan as scan_module

    monkeypatch.setattr(scan_module, "load_classifier", lambda settings: FakeClassifier())

    def run(*argv: str) -> tuple[int, str]:  # through the real `dasi` entry point and its `detect` group
        code = main(["detect", *argv])
        return code, capsys.readouterr().out

    started = time.perf_counter()
    code, out = run("scan", "--source", "batch")
    assert code == 0 and json.loads(out)["flagged"] == 4
    settings = get_settings()
    asyncio_run_approve(settings)
    code, out = run("report", "--batch")
    elapsed = time.perf_counter() - started
    info = json.loads(out)
    assert code == 0 and len(info["reports"]) == 3 and Path(info["xlsx"]).exists()
    print(f"detection-to-draft on the imported batch: {elapsed:.2f} s")
    code, out = run("report", "--approve", str(info["reports"][0]), "--by", "staff:kim")
    assert code == 0 and '"submitted"' in out
    code, out = run("stats")
    assert code == 0 and "출장/조건만남" in out and "삭제요청(B)" in out
    header, values = out.splitlines()[:2]
    assert values.split(" | ")[-1] == "4"
    code, out = run("verify")
    assert code == 0 and "intact" in out
    EvidenceStore.for_settings(settings).log_path.write_text("", encoding="utf-8")
    code, out = run("verify")
    assert code == 1 and "truncated" in out


def asyncio_run_approve(settings) -> None:
    import asyncio

    asyncio.run(approve_all(settings))


async def test_pipeline_on_sqlite_and_postgresql(database_url, env, tmp_path):
    """Migration 0005, dedupe by unique keys, review, drafts and stats on both databases."""
    write_jsonl(tmp_path / "batch.jsonl", POSTS)
    env(DASI_DATABASE_URL=database_url,
        DASI_DETECT_SOURCES=str(write_sources(tmp_path, {"batch": {"kind": "import", "path": "batch.jsonl"}})))
    settings = get_settings()
    upgrade()
    result = await scan(settings, "batch", classifier=FakeClassifier())
    assert (result.stored, result.duplicates, result.flagged) == (5, 1, 4)
    with store.session(settings) as s:  # the database itself refuses a second copy
        from sqlalchemy.exc import IntegrityError
        first = s.scalars(select(DetectedPost)).first()
        s.add(DetectedPost(source="x", platform=first.platform, post_key="other", content_hash=first.content_hash,
                           text="dup"))
        with pytest.raises(IntegrityError):
            s.commit()
    await approve_all(settings)
    with store.session(settings) as s, s.begin():
        batch = reports.draft_batch(s, settings)
        reports.approve(s, batch.reports[0], "staff:kim")
    st = stats_now(settings)
    assert st["table"]["total"] == 4 and st["table"]["requested"] >= 1 and st["reports"]["draft"] == 2
    with store.session(settings) as s:
        assert EvidenceStore.for_settings(settings).verify(s) == []


def test_shipped_sources_file_is_valid():
    from assistant.core.settings import ROOT
    from detection.pipeline.sources import KINDS, load_config

    config = load_config(ROOT / "detection" / "pipeline" / "sources.yml")
    assert {c["kind"] for c in config.values()} == set(KINDS)
