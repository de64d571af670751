"""Retention and erasure of the casebook's data on SQLite and PostgreSQL: `dasi retention run` purges
exactly the expired cases and conversations (Rasa's tracker copies too) and keeps what the statistics
need, its periods come from the settings, an unreachable tracker store stops it before anything changes,
and a deletion request (`dasi people erase`) removes one person's content and logs it.

Everything is driven through the real CLI (assistant.cli.main.main) against a temporary database, and
every expectation comes from how the test built its data, not from the code under test."""
from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assistant.core.clock import utcnow
from assistant.core.settings import get_settings
from assistant.store import crypto
from assistant.store.db import make_sync_engine
from casebook.models import (
    AuditEntry,
    Case,
    CaseDocument,
    CaseEntry,
    CaseService,
    CaseStep,
    Conversation,
    ConversationEvent,
    ConversationNote,
    FollowUp,
    Message,
    Person,
)
from tests.casebook.protection_helpers import (
    EMAIL,
    NAME,
    PHONE,
    SECRETS,
    Builder,
    assert_no_plaintext,
    raw_dump,
    rows_dump,
    run_cli,
)


def anonymous_counts(engine) -> dict[str, list]:
    """What the statistics need: rows by kind, dates, minutes. Must survive purges and erasure."""
    q = {
        "persons": "SELECT count(*) FROM persons",
        "cases": 'SELECT step, support_level, route, count(*) FROM cases GROUP BY step, support_level, route',
        "case_dates": "SELECT opened_at, closed_at FROM cases",
        "services": 'SELECT kind, count(*), sum(minutes) FROM case_services GROUP BY kind',
        "service_dates": 'SELECT "on" FROM case_services',
        "steps": "SELECT to_step, count(*) FROM case_steps GROUP BY to_step",
        "entries": "SELECT kind, count(*) FROM case_entries GROUP BY kind",
        "followups": "SELECT months, due_on, done_at FROM case_followups",
        "conversations": "SELECT channel, state, count(*) FROM conversations GROUP BY channel, state",
        "messages": "SELECT author, direction, count(*) FROM messages GROUP BY author, direction",
        "message_times": "SELECT created_at FROM messages",
    }
    with engine.connect() as conn:
        return {k: sorted(tuple(str(v) for v in r) for r in conn.execute(sa.text(sql))) for k, sql in q.items()}


# --- retention ------------------------------------------------------------------------------------

class Tracker:
    """Rasa's SQL tracker store (rasa/core/tracker_store.py SQLEvent schema, message text in `data`):
    the default SQLite file under var_dir on SQLite runs, the DASI_RASA_TRACKER_URL database on PostgreSQL."""

    def __init__(self, env, database_url: str, senders: list[str]) -> None:
        if database_url.startswith("postgresql"):
            env(DASI_RASA_TRACKER_URL=database_url)
            self.url, pk = database_url, "SERIAL PRIMARY KEY"
        else:
            var_dir = get_settings().var_dir
            var_dir.mkdir(parents=True, exist_ok=True)
            self.url, pk = f"sqlite:///{var_dir / 'rasa-tracker.db'}", "INTEGER PRIMARY KEY"
        engine = make_sync_engine(self.url)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE TABLE events (id {pk}, sender_id VARCHAR(255) NOT NULL, "
                                 "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
                                 "action_name VARCHAR(255), data TEXT)")
            for sender in senders:
                for i in range(3):
                    conn.execute(sa.text("INSERT INTO events (sender_id, type_name, timestamp, data) "
                                         "VALUES (:s, 'user', :t, :d)"),
                                 {"s": sender, "t": float(i),
                                  "d": json.dumps({"event": "user", "text": "트래커의 대화"}, ensure_ascii=False)})
        engine.dispose()

    def senders(self) -> dict[str, int]:
        engine = make_sync_engine(self.url)
        with engine.connect() as conn:
            rows = dict(conn.execute(sa.text("SELECT sender_id, count(*) FROM events GROUP BY sender_id")).all())
        engine.dispose()
        return rows


@dataclass
class Scenario:
    expired_cases: set[str]
    kept_cases: set[str]
    purged_convs: set[int]
    kept_convs: set[int]
    erased_persons: set[int]
    kept_persons: set[int]
    public_ids: dict[int, str]


def build_retention_scenario(b: Builder) -> Scenario:
    now = utcnow()
    case_days, conv_days = 1825, 180
    d = lambda n: now - timedelta(days=n)  # noqa: E731
    with Session(b.engine) as s, s.begin():
        # P1: one case closed one day past the limit, its conversation long idle -> all purged, person erased.
        p1 = b.person(s, "일번사람", "010-1111-0001")
        c1 = b.conversation(s, "p1-user", d(case_days + 30), person=p1, created=d(case_days + 60))
        case1 = b.case(s, p1, "closed", d(case_days + 60), d(case_days + 1), conversation=c1, full=True)
        # P2: closed one day inside the limit -> kept.
        p2 = b.person(s, "이번사람", "010-1111-0002")
        case2 = b.case(s, p2, "aftercare", d(case_days + 60), d(case_days - 1))
        # P3: an open case opened long ago and its old linked conversation -> untouched.
        p3 = b.person(s, "삼번사람", "010-1111-0003")
        c3 = b.conversation(s, "p3-user", d(2500), person=p3, channel="web")
        case3 = b.case(s, p3, "service", d(2600), conversation=c3)
        # P4: an expired closed case and an open one: the old case goes, the person and the conversation stay.
        p4 = b.person(s, "사번사람", "010-1111-0004")
        c4 = b.conversation(s, "p4-user", d(2400), person=p4, channel="instagram")
        case4_old = b.case(s, p4, "closed", d(2600), d(2300))
        case4_open = b.case(s, p4, "monitoring", d(100))
        # Unlinked conversations: one day outside, one day inside, and an old one with a recent message.
        u_out = b.conversation(s, "u-out", d(conv_days + 1), channel="web")
        u_in = b.conversation(s, "u-in", d(conv_days - 1), channel="web")
        u_recent = b.conversation(s, "u-recent", d(10), created=d(900), channel="kakao")
        return Scenario(
            expired_cases={case1.number, case4_old.number}, kept_cases={case2.number, case3.number, case4_open.number},
            purged_convs={c1.id, u_out.id}, kept_convs={c3.id, c4.id, u_in.id, u_recent.id},
            erased_persons={p1.id}, kept_persons={p2.id, p3.id, p4.id},
            public_ids={c.id: c.public_id for c in (c1, c3, c4, u_out, u_in, u_recent)})


def rows_of(engine, table: str, where: str) -> list[tuple]:
    with engine.connect() as conn:
        return sorted(tuple(str(v) for v in r) for r in conn.execute(sa.text(f'SELECT * FROM "{table}" WHERE {where}')))


def kept_rows(engine, sc: Scenario) -> dict:
    """Raw rows of everything that must stay untouched."""
    convs = ",".join(str(i) for i in sc.kept_convs)
    persons = ",".join(str(i) for i in sc.kept_persons)
    numbers = ",".join(f"'{n}'" for n in sc.kept_cases)
    case_ids = f"SELECT id FROM cases WHERE number IN ({numbers})"
    out = {"conversations": rows_of(engine, "conversations", f"id IN ({convs})"),
           "messages": rows_of(engine, "messages", f"conversation_id IN ({convs})"),
           "conversation_notes": rows_of(engine, "conversation_notes", f"conversation_id IN ({convs})"),
           "persons": rows_of(engine, "persons", f"id IN ({persons})"),
           "cases": rows_of(engine, "cases", f"number IN ({numbers})")}
    for t in ("case_steps", "case_services", "case_entries", "case_documents", "case_followups"):
        out[t] = rows_of(engine, t, f"case_id IN ({case_ids})")
    return out


def test_retention_dry_run_changes_nothing_and_apply_purges_exactly_the_expired(db, env, database_url, capsys):
    b = Builder(db)
    sc = build_retention_scenario(b)
    tracker = Tracker(env, database_url, list(sc.public_ids.values()))
    before_all, before_counts, before_kept = rows_dump(db), anonymous_counts(db), kept_rows(db, sc)

    code, out, err = run_cli(capsys, "retention", "run")
    assert code == 0, err
    assert rows_dump(db) == before_all  # not even an audit entry
    assert len(tracker.senders()) == len(sc.public_ids)
    listed = set(re.findall(r"^\s+(\d{4}-\d{4})\s+종결 후 (\d+)일", out, re.M))
    assert {n for n, _ in listed} == sc.expired_cases
    assert all(int(days) > 1825 for _, days in listed)
    assert f"대화 {len(sc.purged_convs)}건" in out and "사람 1명" in out
    for name in ("일번사람", "010-1111-0001", SECRETS["note"]):
        assert name not in out + err  # names records, never content

    code, out, err = run_cli(capsys, "retention", "run", "--apply")
    assert code == 0, err
    with Session(db) as s:
        cases = {c.number: c for c in s.scalars(select(Case))}
        for number in sc.expired_cases:
            c = cases[number]
            assert c.purged_at is not None and c.referred_by is None
            assert c.step in ("closed", "aftercare") and c.closed_at is not None and c.support_level == "intensive"
            assert all(d is None for d in s.scalars(select(CaseStep.data).where(CaseStep.case_id == c.id)))
            assert all(sv.note is None and sv.partner is None
                       for sv in s.scalars(select(CaseService).where(CaseService.case_id == c.id)))
            assert all(e == {} for e in s.scalars(select(CaseEntry.body).where(CaseEntry.case_id == c.id)))
            assert all(n is None for n in s.scalars(select(FollowUp.note).where(FollowUp.case_id == c.id)))
            assert s.scalar(select(func.count()).select_from(CaseDocument).where(CaseDocument.case_id == c.id)) == 0
        assert all(cases[n].purged_at is None for n in sc.kept_cases)
        for cid in sc.purged_convs:
            conv = s.get(Conversation, cid)
            assert conv.purged_at is not None and conv.user_ref == ""
            assert conv.user_key != crypto.blind_index(conv.channel, "p1-user")
            msgs = s.scalars(select(Message).where(Message.conversation_id == cid)).all()
            assert len(msgs) == 3 and all(m.text is None and m.buttons is None and m.attachments is None
                                          for m in msgs)
            assert s.scalar(select(func.count()).select_from(ConversationNote)
                            .where(ConversationNote.conversation_id == cid)) == 0
        p1 = s.get(Person, next(iter(sc.erased_persons)))
        assert p1.erased_at is not None and p1.name is None and p1.contact is None
        audit = s.execute(select(AuditEntry.action, AuditEntry.record_id, AuditEntry.detail)
                          .order_by(AuditEntry.id)).all()
    assert kept_rows(db, sc) == before_kept  # open cases, linked and recent conversations untouched
    assert anonymous_counts(db) == before_counts  # the statistics' rows survive
    assert {r for a, r, _ in audit if a == "retention.purge"} == sc.expired_cases
    runs = [d for a, _, d in audit if a == "retention.run"]
    assert len(runs) == 1 and runs[0]["cases"] == 2 and runs[0]["conversations"] == 2 and runs[0]["persons"] == 1
    assert "일번사람" not in json.dumps([d for *_, d in audit], ensure_ascii=False)
    remaining = tracker.senders()
    assert set(remaining) == {sc.public_ids[i] for i in sc.kept_convs}  # Rasa's copies of purged ones gone

    # Running again finds nothing: everything expired is already purged.
    snapshot = rows_dump(db)
    code, out, _ = run_cli(capsys, "retention", "run", "--apply")
    assert code == 0 and "사례 0건" in out and "대화 0건" in out and "사람 0명" in out
    after = rows_dump(db)
    assert {t: v for t, v in after.items() if t != "audit_log"} == {t: v for t, v in snapshot.items()
                                                                      if t != "audit_log"}


def test_retention_periods_come_from_settings(db, env, capsys):
    b = Builder(db)
    with Session(db) as s, s.begin():
        c = b.conversation(s, "u-40", utcnow() - timedelta(days=40), channel="web")
        c.state, c.waiting_since = "waiting", utcnow() - timedelta(days=40)  # left in the queue, never answered
        c.updated_at = c.waiting_since  # (else onupdate would stamp it as active now)
        cid = c.id
    code, out, _ = run_cli(capsys, "retention", "run", "--apply")
    assert code == 0 and "대화 0건" in out
    env(DASI_RETENTION_CONVERSATION_DAYS="30")
    code, out, _ = run_cli(capsys, "retention", "run", "--apply")
    assert code == 0 and "대화 1건" in out and "미연결 대화 30일" in out
    with Session(db) as s:
        conv = s.get(Conversation, cid)
        assert conv.purged_at is not None and conv.state == "closed" and conv.waiting_since is None
        events = s.execute(select(ConversationEvent.actor, ConversationEvent.detail)
                           .where(ConversationEvent.conversation_id == cid, ConversationEvent.kind == "state")).all()
        assert [(a, d["old"], d["new"]) for a, d in events] == [("retention", "waiting", "closed")]


def test_an_unreachable_tracker_store_stops_before_the_database_changes(db, env, capsys):
    b = Builder(db)
    with Session(db) as s, s.begin():
        b.conversation(s, "u-old", utcnow() - timedelta(days=400), channel="web")
    snapshot = rows_dump(db)
    env(DASI_RASA_TRACKER_URL="mysql://rasa:pw@127.0.0.1:1/rasa")
    code, _, err = run_cli(capsys, "retention", "run", "--apply")
    assert code != 0 and "tracker" in err and "Traceback" not in err
    assert {t: v for t, v in rows_dump(db).items() if t != "audit_log"} == {
        t: v for t, v in snapshot.items() if t != "audit_log"}


# --- a deletion request ---------------------------------------------------------------------------

def person_view(engine, person_id: int) -> dict:
    """A person's content as the application reads it."""
    with Session(engine) as s:
        p = s.get(Person, person_id)
        case_ids = s.scalars(select(Case.id).where(Case.person_id == person_id)).all()
        convs = s.scalars(select(Conversation).where(Conversation.person_id == person_id)).all()
        return {
            "person": (p.name, p.contact, p.erased_at is None),
            "referred_by": sorted(str(r) for r in s.scalars(select(Case.referred_by).where(Case.id.in_(case_ids)))),
            "entries": sorted(json.dumps(e, ensure_ascii=False) for e in s.scalars(
                select(CaseEntry.body).where(CaseEntry.case_id.in_(case_ids)))),
            "notes": sorted(str(sv.note) + str(sv.partner) for sv in s.scalars(
                select(CaseService).where(CaseService.case_id.in_(case_ids)))),
            "steps": sorted(json.dumps(d, ensure_ascii=False) for d in s.scalars(
                select(CaseStep.data).where(CaseStep.case_id.in_(case_ids)))),
            "documents": s.scalar(select(func.count()).select_from(CaseDocument)
                                  .where(CaseDocument.case_id.in_(case_ids))),
            "messages": sorted(str(m.text) for m in s.scalars(
                select(Message).where(Message.conversation_id.in_([c.id for c in convs])))),
            "user_refs": sorted(c.user_ref for c in convs),
        }


def test_people_erase_removes_one_persons_content_and_logs_it(db, env, database_url, capsys, monkeypatch):
    b = Builder(db)
    now = utcnow()
    with Session(db) as s, s.begin():
        x = b.person(s, NAME, PHONE, email=EMAIL)
        cx = b.conversation(s, SECRETS["user_ref"], now, person=x, text=SECRETS["message"], full=True)
        cx2 = b.conversation(s, "x-on-web", now, person=x, channel="web", text="두 번째 채널")
        b.case(s, x, "service", now - timedelta(days=30), conversation=cx, full=True)
        y = b.person(s, "다른내담자", "010-2222-3333")
        cy = b.conversation(s, "y-user", now, person=y, text="와이의 메시지")
        b.case(s, y, "planning", now - timedelta(days=20), conversation=cy)
        xid, yid, cy_id = x.id, y.id, cy.id
        senders = {"x": [cx.public_id, cx2.public_id], "y": [cy.public_id]}
    tracker = Tracker(env, database_url, senders["x"] + senders["y"])
    y_before, y_rows = person_view(db, yid), rows_of(db, "messages", f"conversation_id = {cy_id}")
    assert person_view(db, xid)["person"][0] == NAME
    counts = anonymous_counts(db)
    snapshot = rows_dump(db)
    tokens_before = raw_dump(db, get_settings().database_url).tokens

    # Bad input first: nothing may change.
    code, _, err = run_cli(capsys, "people", "erase", "999999", "--yes")
    assert code != 0 and "999999" in err and "없습니다" in err
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: no way to confirm
    code, _, err = run_cli(capsys, "people", "erase", str(xid))
    assert code != 0 and "--yes" in err
    assert rows_dump(db) == snapshot and len(tracker.senders()) == 3

    code, out, err = run_cli(capsys, "people", "erase", str(xid), "--yes", "--by", "supervisor-park")
    assert code == 0, err
    assert NAME not in out + err
    x_after = person_view(db, xid)
    assert x_after["person"] == (None, None, False)
    assert x_after["referred_by"] == ["None"] and x_after["entries"] == ["{}", "{}"] and x_after["documents"] == 0
    assert all(d == "null" for d in x_after["steps"]) and all(n == "NoneNone" for n in x_after["notes"])
    assert x_after["messages"] == ["None"] * 6 and x_after["user_refs"] == ["", ""]
    assert person_view(db, yid) == y_before and rows_of(db, "messages", f"conversation_id = {cy_id}") == y_rows
    assert anonymous_counts(db) == counts
    assert set(tracker.senders()) == set(senders["y"])
    with Session(db) as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "person.erase")).all()
    assert len(entries) == 1
    e = entries[0]
    assert (e.actor, e.record_type, e.record_id) == ("cli", "person", str(xid))
    assert e.detail["requested_by"] == "supervisor-park" and e.detail["conversations"] == 2
    assert abs((utcnow() - e.at).total_seconds()) < 120
    assert NAME not in json.dumps(e.detail, ensure_ascii=False)
    dump = raw_dump(db, get_settings().database_url)
    assert_no_plaintext(dump)
    erased = tokens_before - dump.tokens  # x's old ciphertext: gone from the rows and from the files
    assert len(erased) >= 15 and not [t for t in erased if t.encode() in dump.raw]
