"""Watcher outreach drafting on SQLite and PostgreSQL: drafts for youth-flagged posts only, with the right
texts (the law articles, 1388 / 117 / 112 and no number that is not in kb-facts.md); a young person
writing about themselves gets guidance only; one contact written three ways is one contact, and its third
flag escalates to exactly one report draft; drafting twice changes nothing; the audit log has an entry per
draft and never a text."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from assistant.core.settings import Settings, get_settings
from assistant.store.migrate import upgrade
from detection.outreach import contacts, minors, service, templates
from detection.outreach.tables import OutreachFlag, OutreachPost
from detection.storage import queries as store
from detection.storage.tables import DetectedPost
from tests.conftest import ROOT
from tests.detection import outreach_helpers as h

KB_FACTS = (ROOT.parent / "shared" / "reference" / "kb-facts.md")
NUMBER = re.compile(r"(?<![\d제])(?:0\d{1,2}-\d{3,4}-\d{4}|1\d{2,3})(?![\d조년세만살])")


@pytest.fixture
async def outreach_db(env, database_url, tmp_path):
    env(DASI_DATABASE_URL=database_url, DASI_DETECT_SOURCES=str(tmp_path / "sources.yml"))
    upgrade(database_url)
    settings = get_settings()
    assert await h.seed(settings, tmp_path) == 6  # five youth posts and the office ad
    return settings


def draft_all(settings):
    with store.session(settings) as s, s.begin():
        return service.draft_pending(s, settings, actor="user:kim", ip="127.0.0.1")


async def test_drafts_for_youth_posts_only_with_the_right_texts(outreach_db):
    settings = outreach_db
    run = draft_all(settings)
    assert run.posts == 5 and len(run.drafts) == 9
    got = h.drafts(settings.database_url)
    assert {(d["post"], d["template"]) for d in got} == h.EXPECTED  # nothing for the office ad (not youth)
    assert {d["via"] for d in got if d["post"] != "b1"} == {"reply"}  # X allows replies
    assert {d["via"] for d in got if d["post"] == "b1"} == {"manual"}  # the board: staff post by hand
    assert {d["status"] for d in got} == {"draft"}
    for d in got:
        assert d["text"] == templates.get(d["template"]).render(settings)
        assert templates.x_length(d["text"]) <= templates.X_LIMIT
    warning = templates.get("warning").render(settings)
    assert "청소년성보호법 제13조" in warning and "제15조의2" in warning
    assert "3년 이하" in warning and "3천만원 이하" in warning
    for key in ("guidance_readers", "guidance_self"):
        text = templates.get(key).render(settings)
        assert "1388" in text and "117" in text and "112" in text and settings.centre_phone in text
        assert "잘못이 아니" in text and "사진" in text and "만나지 마세요" in text


def test_every_number_in_a_template_is_in_kb_facts():
    facts = KB_FACTS.read_text(encoding="utf-8")
    found = set()
    for tpl in templates.templates().values():
        text = tpl.render(Settings())
        numbers = set(NUMBER.findall(text))
        assert numbers or tpl.kind == "warning", (tpl.key, text)  # every guidance text names where to turn
        found |= numbers
        for n in numbers:
            assert n in facts, f"{tpl.key}: {n} is not in kb-facts.md"
    assert {"1388", "117", "112", "02-814-3660"} <= found
    assert not NUMBER.findall("청소년성보호법 제13조 19세 3년 이하 3천만원")  # the pattern skips articles and ages
    assert NUMBER.findall("번호 1234 또는 02-123-4567") == ["1234", "02-123-4567"]  # and finds numbers


async def test_a_young_person_writing_about_themselves_gets_guidance_only(outreach_db):
    settings = outreach_db
    draft_all(settings)
    teen = [d for d in h.drafts(settings.database_url) if d["post"] == "1004"]
    assert [(d["kind"], d["template"]) for d in teen] == [("guidance", "guidance_self")]
    target = next(t for t in h.targets(settings.database_url) if t.id == teen[0]["target_id"])
    assert (target.kind, target.minor, target.minor_by) == ("account", True, "classifier")
    assert minors.believed_minor("저 17살인데 조건만남 구해요") and not minors.believed_minor("고딩 민짜 환영 조건만남")


async def test_one_contact_written_three_ways_escalates_to_one_report(outreach_db):
    settings = outreach_db
    assert {contacts.phone(v) for v in ("010-1234-5678", "010 1234 5678", "공일공 일이삼사 오육칠팔")} == {h.PHONE}
    run = draft_all(settings)
    assert len(run.reports) == 1
    phones = [t for t in h.targets(settings.database_url) if t.kind == "phone"]
    assert len(phones) == 1 and phones[0].value == h.PHONE and phones[0].escalated_at is not None
    assert phones[0].key_hash != h.PHONE and len(phones[0].key_hash) == 64  # compared by keyed hash
    [report] = h.reports(settings.database_url)
    assert (report.id, report.status, report.post_count, report.youth) == (run.reports[0], "draft", 3, True)
    with store.session(settings) as s:
        in_report = s.scalars(select(DetectedPost.post_id).where(DetectedPost.report_id == report.id)).all()
    assert sorted(in_report) == ["1001", "1002", "1003"]
    doc = (settings.var_dir / report.documents["kcsc"]).read_text(encoding="utf-8")
    assert "제13조" in doc and "제15조의2" in doc
    # The accounts were flagged once each: no escalation for them.
    assert all(t.escalated_at is None for t in h.targets(settings.database_url) if t.kind == "account")
    # Drafting again (a rescan, a second click) reads nothing new and escalates nothing again.
    again = draft_all(settings)
    assert (again.posts, again.drafts, again.reports) == (0, [], [])
    assert len(h.reports(settings.database_url)) == 1


async def test_below_the_threshold_no_report(env, database_url, tmp_path):
    env(DASI_DATABASE_URL=database_url, DASI_DETECT_SOURCES=str(tmp_path / "sources.yml"),
        DASI_OUTREACH_ESCALATE_AFTER="4")
    upgrade(database_url)
    settings = get_settings()
    await h.seed(settings, tmp_path)
    assert draft_all(settings).reports == [] and h.reports(database_url) == []


async def test_a_new_post_by_the_same_account_repeats_no_text_and_counts_a_flag(outreach_db, tmp_path):
    settings = outreach_db
    draft_all(settings)
    more = [{"id": "1011", "platform": "x", "url": "https://x.example/1011", "account": "lure_one",
             "text": "고딩 조건만남 20만 텔레 @lure1", "posted_at": "2026-11-21T10:00:00Z"}]
    h.write_jsonl(tmp_path / "more.jsonl", more)
    h.write_sources(tmp_path, {"more": {"kind": "import", "path": "more.jsonl"}})
    await h.scan(settings, "more", classifier=h.FakeClassifier())
    run = draft_all(settings)
    assert (run.posts, len(run.drafts), run.repeats) == (1, 0, 2)  # Lure_One = lure_one: same account
    account = next(t for t in h.targets(settings.database_url) if t.kind == "account" and t.value == "x:lure_one")
    flags = h.read(settings.database_url, lambda s: s.scalars(select(OutreachFlag.post_id).where(
        OutreachFlag.target_id == account.id)).all())
    assert len(flags) == 2


async def test_audit_has_each_draft_and_no_content(outreach_db):
    settings = outreach_db
    run = draft_all(settings)
    entries = h.audit_entries(settings.database_url)
    drafted = [e for e in entries if e.action == "outreach.draft"]
    assert sorted(int(e.record_id) for e in drafted) == sorted(run.drafts)
    assert {(e.actor, e.record_type) for e in drafted} == {("user:kim", "outreach_draft")}
    assert [e.action for e in entries if e.action == "outreach.escalate"] == ["outreach.escalate"]
    dump = json.dumps([e.detail for e in entries], ensure_ascii=False)
    for secret in ("조건만남", "청소년성보호법", h.PHONE, "lure_one", "Lure_One", "1388", "kidlure"):
        assert secret not in dump
    processed = h.read(settings.database_url, lambda s: s.scalars(select(OutreachPost.post_id)).all())
    assert len(processed) == 5


def test_the_cli_drafts_after_a_scan_and_reports_the_counts(env, tmp_path, monkeypatch, capsys):
    """`dasi detect scan` drafts for the new youth posts; `dasi detect stats` and `dasi stats` show outreach."""
    from assistant.cli.main import main
    from detection.pipeline import scan as scan_module

    h.write_jsonl(tmp_path / "outreach.jsonl", h.POSTS)
    h.write_sources(tmp_path, {"outreach": {"kind": "import", "path": "outreach.jsonl"}})
    env(DASI_DETECT_SOURCES=str(tmp_path / "sources.yml"))
    upgrade()
    monkeypatch.setattr(scan_module, "load_classifier", lambda settings: h.FakeClassifier())
    assert main(["detect", "scan", "--source", "outreach"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["outreach"] == {"posts": 5, "drafts": 9, "repeats": 0, "reports": [1]}
    assert main(["detect", "outreach"]) == 0
    assert json.loads(capsys.readouterr().out)["drafted"]["posts"] == 0  # nothing new
    assert main(["detect", "stats"]) == 0
    assert "아웃리치: 경고 0 · 안내 0" in capsys.readouterr().out
    assert main(["stats", "--format", "json", "--from", "2026-01-01", "--to", "2026-12-31"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert "outreach" in [t["key"] for t in doc["tables"]]  # beside the other sections (citizen reports)
