"""Watcher outreach from approval to the fake X API, through the real gateway (the X channel on, its
outbox, the review pages' JSON routes): approved with sending on → X receives exactly those replies,
once; unapproved, dry run, rejected → nothing; a second approval or the same text to the same target →
nothing more; an account believed to be a minor → guidance only; the per-target rate limit holds; a role
that does not review detection cannot approve; the audit log has approvals and sends, never the text;
the counts reach the detection stats and the centre's statistics."""
from __future__ import annotations

import asyncio
import json
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from assistant.core.settings import get_settings
from assistant.store.db import sessionmaker
from casebook.console import stats as console_stats
from casebook.stats import queries as casebook_stats
from detection.outreach import service, templates
from detection.outreach.tables import OutreachDraft, OutreachSend
from detection.storage import queries as store
from tests.detection import outreach_helpers as h
from tests.fakes import harness

pytestmark = pytest.mark.usefixtures("cheap_hashes")


def start(env, tmp_path, database_url=None, **extra):
    """The gateway with the X channel on (fake X), the posts scanned and drafted, kim signed in."""
    hs = harness.start(env, tmp_path, database_url=database_url,
                       DASI_DETECT_SOURCES=str(tmp_path / "sources.yml"), **extra)
    settings = get_settings()
    # The scan writes through blocking sessions, as `dasi detect scan` does in its own process: on the
    # gateway's loop it would stall the gateway's own open SQLite transaction until the busy timeout.
    assert asyncio.run(h.seed(settings, tmp_path)) == 6
    hs.loop.run(h.add_staff(settings))
    kim = h.Staff.sign_in(hs.url, "kim")
    status, run = kim.post("/api/outreach/draft")
    assert status == 200 and run["drafts"] == 9, run
    return hs, kim, settings


@pytest.fixture
def live(env, tmp_path):
    hs, kim, settings = start(env, tmp_path, DASI_OUTREACH_DRY_RUN="0")
    yield hs, kim, settings
    hs.close()


@pytest.fixture
def live_both(env, tmp_path, database_url):
    """As `live`, on SQLite and on PostgreSQL (the send guard's savepoint and unique constraint)."""
    hs, kim, settings = start(env, tmp_path, database_url=database_url, DASI_OUTREACH_DRY_RUN="0")
    yield hs, kim, settings
    hs.close()


def approve(kim, db, post, template):
    return kim.post(f"/api/outreach/drafts/{h.draft_id(db, post, template)}/approve")


def test_approved_messages_reach_x_exactly_once(live_both):
    hs, kim, settings = live_both
    db = settings.database_url
    status, listing = kim.get("/api/outreach/drafts")
    assert status == 200 and len(listing["drafts"]) == 9 and listing["dry_run"] is False
    assert listing["senders"] == ["x"]
    assert hs.x.sent == []  # drafted, listed, nothing approved: nothing sent
    warning, guidance = (templates.get(k).render(settings) for k in ("warning", "guidance_readers"))

    assert approve(kim, db, "1001", "warning") == (200, {"id": h.draft_id(db, "1001", "warning"), "status": "sent"})
    assert approve(kim, db, "1002", "guidance_readers")[1]["status"] == "sent"
    assert hs.x.replies == [{"text": warning, "reply": {"in_reply_to_tweet_id": "1001"}},
                            {"text": guidance, "reply": {"in_reply_to_tweet_id": "1002"}}]
    assert hs.x.rejected == []
    assert {s["headers"]["Authorization"] for s in hs.x.sent} == {f"Bearer {harness.X_TOKEN}"}

    # The same draft approved again: refused, nothing more sent.
    status, body = approve(kim, db, "1001", "warning")
    assert (status, body["error"]) == (409, "not_open")
    # A reject: never sent, and cannot be approved afterwards.
    rid = h.draft_id(db, "1003", "warning")
    assert kim.post(f"/api/outreach/drafts/{rid}/reject") == (200, {"id": rid, "status": "rejected"})
    assert kim.post(f"/api/outreach/drafts/{rid}/approve")[0] == 409
    # The board has no API: approved, it waits for a person to post it by hand, then counts as posted.
    bid = h.draft_id(db, "b1", "warning")
    assert approve(kim, db, "b1", "warning")[1]["status"] == "approved"
    assert kim.post(f"/api/outreach/drafts/{bid}/posted") == (200, {"id": bid, "status": "posted_by_hand"})
    assert len(hs.x.sent) == 2

    by = {d["id"]: d for d in h.drafts(db)}
    assert by[h.draft_id(db, "1001", "warning")]["decided_by"] == "user:kim"
    remote = h.read(db, lambda s: s.get(OutreachDraft, h.draft_id(db, "1001", "warning")).remote_id)
    assert remote and remote.isdigit()

    # Audit: who approved and sent which draft; never the text, the account or the post.
    entries = h.audit_entries(db)
    actions = [(e.action, e.record_id) for e in entries if e.action != "outreach.draft"]
    sent_id = str(h.draft_id(db, "1001", "warning"))
    assert ("outreach.approve", sent_id) in actions and ("outreach.send", sent_id) in actions
    assert ("outreach.reject", str(rid)) in actions and ("outreach.posted_by_hand", str(bid)) in actions
    assert {e.actor for e in entries} == {"user:kim"}
    dump = json.dumps([e.detail for e in entries], ensure_ascii=False)
    for secret in (warning[:20], guidance[:20], "lure", "조건만남", h.PHONE):
        assert secret not in dump

    # Statistics: the review page's, and the centre's (/console/stats, `dasi stats`) through the section hook.
    status, st = kim.get("/api/detection/stats")
    assert status == 200
    o = st["outreach"]
    assert (o["warnings_sent"], o["guidance_sent"], o["posted_by_hand"], o["contacts_escalated"]) == (2, 1, 1, 1)
    assert o["warned_posts"] == {"deleted": 0, "live": 0, "unchecked": 2}

    async def centre_stats():
        sections = hs.app[console_stats.SECTIONS].values()  # what /console/stats passes
        async with sessionmaker(db)() as s:
            return await casebook_stats.compute(s, casebook_stats.Period(date(2000, 1, 1), date(2100, 12, 31)),
                                                sections)
    table = hs.loop.run(centre_stats()).table("outreach")
    assert table.row("경고 발송")[1] == 2 and table.row("안내 발송")[1] == 1
    assert table.row("반복 연락처 신고서 전환")[1] == 1


def test_the_same_text_never_reaches_the_same_target_twice(live_both):
    hs, kim, settings = live_both
    db = settings.database_url
    assert approve(kim, db, "1001", "warning")[1]["status"] == "sent"
    # Another draft with the same text for the same account (as if drafted again): approval marks it a
    # duplicate and nothing goes out.
    first = h.draft_id(db, "1001", "warning")
    with store.session(settings) as s, s.begin():
        d = s.get(OutreachDraft, first)
        copy = OutreachDraft(post_id=d.post_id, target_id=d.target_id, kind=d.kind, template=d.template,
                             platform=d.platform, via=d.via, recipient=d.recipient, text=d.text,
                             text_hash=d.text_hash, target_hash=d.target_hash, status="draft")
        s.add(copy)
        s.flush()
        copy_id = copy.id
    assert kim.post(f"/api/outreach/drafts/{copy_id}/approve") == (200, {"id": copy_id, "status": "duplicate"})
    # Even if a race got past that check, the database refuses a second send row.
    with pytest.raises(IntegrityError), store.session(settings) as s, s.begin():
        s.add(OutreachSend(draft_id=copy_id, target_hash=d.target_hash, text_hash=d.text_hash))
    assert len(hs.x.replies) == 1


def test_an_account_believed_to_be_a_minor_gets_guidance_only(live):
    hs, kim, settings = live
    db = settings.database_url
    # A young person writing about themselves: no warning was ever drafted; guidance can be sent.
    assert {d["kind"] for d in h.drafts(db) if d["post"] == "1004"} == {"guidance"}
    assert approve(kim, db, "1004", "guidance_self")[1]["status"] == "sent"
    # Staff believe Lure_One is a minor: its warning can no longer be approved; its guidance can.
    target = next(d["target_id"] for d in h.drafts(db) if d["post"] == "1001")
    assert kim.post(f"/api/outreach/targets/{target}/minor") == (200, {"id": target, "minor": True})
    status, body = approve(kim, db, "1001", "warning")
    assert (status, body["error"]) == (403, "minor_guidance_only")
    assert approve(kim, db, "1001", "guidance_readers")[1]["status"] == "sent"
    assert [r["reply"]["in_reply_to_tweet_id"] for r in hs.x.replies] == ["1004", "1001"]
    assert all("범죄" not in r["text"] for r in hs.x.replies)  # no warning text reached them
    with store.session(settings) as s, s.begin():  # nor can the service be made to send one
        wid = h.draft_id(db, "1001", "warning")
        s.get(OutreachDraft, wid).status = "approved"
    status, body = kim.post(f"/api/outreach/drafts/{wid}/send")
    assert (status, body["error"]) == (403, "minor_guidance_only")
    assert len(hs.x.replies) == 2


def test_rate_limit_per_target(env, tmp_path):
    hs, kim, settings = start(env, tmp_path, DASI_OUTREACH_DRY_RUN="0", DASI_OUTREACH_RATE_PER_TARGET="1/day")
    try:
        db = settings.database_url
        assert approve(kim, db, "1001", "warning")[1]["status"] == "sent"
        status, body = approve(kim, db, "1001", "guidance_readers")  # the same account, within the day
        assert (status, body["error"]) == (429, "rate_limited")
        gid = h.draft_id(db, "1001", "guidance_readers")
        assert next(d for d in h.drafts(db) if d["id"] == gid)["status"] == "approved"  # waits, not lost
        assert kim.post(f"/api/outreach/drafts/{gid}/send")[0] == 429  # still inside the window
        assert approve(kim, db, "1002", "warning")[1]["status"] == "sent"  # another target is not held up
        assert [r["reply"]["in_reply_to_tweet_id"] for r in hs.x.replies] == ["1001", "1002"]
        assert "outreach.rate_limited" in {e.action for e in h.audit_entries(db)}
    finally:
        hs.close()


def test_dry_run_records_the_approval_and_sends_nothing(env, tmp_path):
    hs, kim, settings = start(env, tmp_path)  # the default: DASI_OUTREACH_DRY_RUN=1
    try:
        db = settings.database_url
        assert settings.outreach_dry_run is True
        for post, key in (("1001", "warning"), ("1001", "guidance_readers"), ("1004", "guidance_self")):
            assert approve(kim, db, post, key)[1]["status"] == "dry_run"
        assert hs.x.sent == [] and hs.x.calls == 0
        approvals = [e for e in h.audit_entries(db) if e.action == "outreach.approve"]
        assert len(approvals) == 3 and all(e.detail["dry_run"] is True for e in approvals)
        with store.session(settings) as s:
            assert s.scalars(select(OutreachSend)).all() == []
            assert service.status_of(s, h.draft_id(db, "1001", "warning")) == "dry_run"
    finally:
        hs.close()


def test_a_failed_send_is_not_counted_and_may_be_approved_again(live):
    hs, kim, settings = live
    db = settings.database_url
    hs.x.fail_next(403, body={"title": "Forbidden", "status": 403})  # e.g. replies limited by the author
    status, body = approve(kim, db, "1001", "warning")
    assert (status, body["error"]) == (502, "send_failed")
    assert next(d for d in h.drafts(db) if d["post"] == "1001" and d["kind"] == "warning")["status"] == "failed"
    assert approve(kim, db, "1001", "warning")[1]["status"] == "sent"  # the guard was released
    assert len(hs.x.replies) == 1


def test_only_reviewing_roles_may_approve(live):
    hs, kim, settings = live
    db = settings.database_url
    ed = h.Staff.sign_in(hs.url, "ed")
    wid = h.draft_id(db, "1001", "warning")
    for path in (f"/api/outreach/drafts/{wid}/approve", f"/api/outreach/drafts/{wid}/reject", "/api/outreach/draft"):
        status, body = ed.post(path)
        assert (status, body["error"]) == (403, "forbidden"), path
    assert ed.get("/api/outreach/drafts")[0] == 403
    anonymous = h.Staff(hs.url)
    assert anonymous.get("/api/outreach/drafts")[0] == 401
    assert kim.post(f"/api/outreach/drafts/{wid}/approve", None)[0] == 200
    kim_no_csrf = h.Staff(hs.url, kim.cookie, "")
    assert kim_no_csrf.post(f"/api/outreach/drafts/{h.draft_id(db, '1002', 'warning')}/approve")[0] == 403
    assert len(hs.x.replies) == 1
    assert not [e for e in h.audit_entries(db) if e.actor == "user:ed"]


def test_review_roles_are_the_outreach_roles():
    from detection.outreach.routes import OUTREACH_ROLES
    from detection.review.routes import REVIEW_ROLES
    assert OUTREACH_ROLES == REVIEW_ROLES
