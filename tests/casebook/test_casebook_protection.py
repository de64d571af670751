"""Protection of the casebook's data on SQLite and PostgreSQL: encryption at rest proven on a raw dump,
key rotation (`dasi keys rotate`), retention (`dasi retention run`), a deletion request
(`dasi people erase`), and the upgrade from the previous release's schema (0005) with data kept.

Everything is driven through the real CLI (assistant.cli.main.main) against a temporary database, and
every expectation comes from how the test built its data, not from the code under test."""
from __future__ import annotations

import io
import json
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assistant.cli.main import main
from assistant.core.clock import utcnow
from assistant.core.settings import get_settings
from assistant.store import crypto
from assistant.store.db import make_sync_engine
from assistant.store.migrate import upgrade
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
    KakaoCallback,
    Message,
    Person,
    User,
)

# Planted content: distinctive enough that any hit in a dump is a leak, never a coincidence.
NAME = "윤서하늘빛"
PHONE = "010-7391-2846"
EMAIL = "haneulbit.yoon@example.kr"
SECRETS = {
    "name": NAME, "phone": PHONE, "email": EMAIL,
    "incident": "청량리역앞 선불금강요 사건", "perpetrators": "박철수업주와 김실장",
    "note": "상담메모 비밀문구 사과나무", "service_note": "법률지원메모 비밀문구 은행나무",
    "partner": "대한법률구조공단 서초지부", "referred_by": "성동구청 가족센터 담당자",
    "step": "주거지원필요 비밀문구 소나무", "followup": "사후관리메모 비밀문구 느티나무",
    "document": "진단서비밀내용 환자기록 단풍나무", "filename": "진단서_윤서하늘빛.pdf",
    "message": "저는 윤서하늘빛이고 선불금이 남아있어요", "reply": "답장비밀문구 자작나무",
    "button": "비밀버튼제목 참나무", "attachment": "https://cdn.example.kr/secret-photo-4417.jpg",
    "conv_note": "대화메모 비밀문구 밤나무", "user_ref": "kakao-plat-user-778899",
    "callback": "https://bot-api.kakao.com/callback/onetime-secret-5531",
}
TOKEN = re.compile(r"gAAAAA[0-9A-Za-z_\-]+=*")


# --- fixtures and builders -------------------------------------------------------------------------

@pytest.fixture
def db(env, database_url):
    env(DASI_DATABASE_URL=database_url)
    upgrade(database_url)
    engine = make_sync_engine(database_url)
    yield engine
    engine.dispose()


class Builder:
    """Rows straight through the models (so through the encrypted column types)."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.seq = 0
        with Session(engine) as s, s.begin():
            user = User(login="kim", name="김상담", role="counsellor", password_hash="x")
            s.add(user)
            s.flush()
            self.user_id = user.id

    def person(self, s: Session, name: str, phone: str, **extra) -> Person:
        p = Person(name=name, contact={"phone": phone, **extra}, created_by=self.user_id,
                   created_at=utcnow() - timedelta(days=3000))
        s.add(p)
        s.flush()
        return p

    def conversation(self, s: Session, user_id: str, last: datetime, person: Person | None = None,
                     channel: str = "kakao", text: str = "안녕하세요", created: datetime | None = None,
                     full: bool = False) -> Conversation:
        created = created or last
        c = Conversation(channel=channel, user_key=crypto.blind_index(channel, user_id), user_ref=user_id,
                         state="closed", created_at=created, updated_at=created,
                         person_id=person.id if person else None)
        s.add(c)
        s.flush()
        s.add(Message(conversation_id=c.id, direction="in", author="user", text=text, channel=channel,
                      platform_message_id=f"mid-{c.id}", created_at=created,
                      attachments=[{"type": "image", "url": SECRETS["attachment"]}] if full else None))
        s.add(Message(conversation_id=c.id, direction="out", author="bot", text=SECRETS["reply"] if full else "네",
                      buttons=[{"title": SECRETS["button"], "payload": "/x"}] if full else None,
                      channel=channel, created_at=last))
        s.add(Message(conversation_id=c.id, direction="out", author="counsellor", text="상담원입니다",
                      channel=channel, created_at=last))
        s.add(ConversationNote(conversation_id=c.id, author_id=self.user_id,
                               text=SECRETS["conv_note"] if full else "메모", created_at=created))
        s.add(KakaoCallback(conversation_id=c.id, url=SECRETS["callback"] if full else "https://k/cb",
                            expires_at=created, created_at=created))
        s.flush()
        return c

    def case(self, s: Session, person: Person, step: str, opened: datetime, closed: datetime | None = None,
             conversation: Conversation | None = None, full: bool = False) -> Case:
        self.seq += 1
        year = opened.year
        c = Case(year=year, seq=self.seq, number=f"{year}-{self.seq:04d}", person_id=person.id,
                 conversation_id=conversation.id if conversation else None,
                 route="online" if conversation else "visit", channel=conversation.channel if conversation else None,
                 referred_by=SECRETS["referred_by"] if full else "구청", step=step, support_level="intensive",
                 owner_id=self.user_id, opened_at=opened, closed_at=closed,
                 close_reason="goals_met" if closed else None)
        s.add(c)
        s.flush()
        s.add(CaseStep(case_id=c.id, from_step=None, to_step="intake", on=opened, actor_id=self.user_id, data={}))
        s.add(CaseStep(case_id=c.id, from_step="assessment", to_step="planning", on=opened + timedelta(days=1),
                       actor_id=self.user_id, data={"needs": SECRETS["step"] if full else "주거",
                                                    "support_level": "intensive"}))
        if closed:
            s.add(CaseStep(case_id=c.id, from_step="monitoring", to_step="closed", on=closed,
                           actor_id=self.user_id, data={"reason": "goals_met"}))
            s.add(FollowUp(case_id=c.id, due_on=closed + timedelta(days=90), months=3,
                           note=SECRETS["followup"] if full else "확인", done_at=closed + timedelta(days=91)))
        s.add(CaseService(case_id=c.id, kind="legal", on=opened + timedelta(days=2), counsellor_id=self.user_id,
                          minutes=50, partner=SECRETS["partner"] if full else "공단",
                          note=SECRETS["service_note"] if full else "상담"))
        s.add(CaseService(case_id=c.id, kind="emotional", on=opened + timedelta(days=3),
                          counsellor_id=self.user_id, minutes=30, note="정서"))
        s.add(CaseEntry(case_id=c.id, kind="note", body={"text": SECRETS["note"] if full else "메모"},
                        author_id=self.user_id, created_at=opened))
        s.add(CaseEntry(case_id=c.id, kind="incident", author_id=self.user_id, created_at=opened,
                        body={"what": SECRETS["incident"] if full else "사건", "when": "2024-03",
                              "where": "서울", "perpetrators": SECRETS["perpetrators"] if full else "업주"}))
        data = (SECRETS["document"] if full else "문서").encode("utf-8")
        s.add(CaseDocument(case_id=c.id, filename=SECRETS["filename"] if full else "a.pdf",
                           content_type="application/pdf", size=len(data), content=crypto.encrypt_bytes(data),
                           uploaded_by=self.user_id, created_at=opened))
        s.flush()
        return c


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def table_names(engine) -> list[str]:
    return sorted(sa.inspect(engine).get_table_names())


def rows_dump(engine) -> dict[str, list[tuple]]:
    """Every row of every table as stored (tokens, not plaintext), in a stable order."""
    out = {}
    with engine.connect() as conn:
        for t in table_names(engine):
            rows = conn.execute(sa.text(f'SELECT * FROM "{t}"')).all()
            out[t] = sorted(tuple(str(v) for v in r) for r in rows)
    return out


@dataclass
class Dump:
    raw: bytes  # SQLite: the file and WAL bytes; PostgreSQL: pg_dump's output (when installed)
    logical: str  # every row as text: SQLite iterdump(), PostgreSQL every column cast to text

    @property
    def tokens(self) -> set[str]:
        return set(TOKEN.findall(self.logical))


def raw_dump(engine, url: str) -> Dump:
    """What someone holding only the database would see."""
    raw: list[bytes] = []
    logical: list[str] = []
    if url.startswith("sqlite"):
        engine.dispose()  # close our connections so nothing of ours holds the WAL
        path = Path(url[len("sqlite:///"):])
        for p in (path, path.with_name(path.name + "-wal")):
            if p.exists():
                raw.append(p.read_bytes())
        conn = sqlite3.connect(path)
        logical.extend(conn.iterdump())
        conn.close()
    else:
        pg_dump = shutil.which("pg_dump") or "/usr/lib/postgresql/15/bin/pg_dump"
        if Path(pg_dump).exists():
            raw.append(subprocess.run([pg_dump, "--no-owner", f"--dbname={url}"], check=True,
                                      capture_output=True).stdout)
        with engine.connect() as conn:
            for t in table_names(engine):
                cols = [c["name"] for c in sa.inspect(engine).get_columns(t)]
                sel = ", ".join(f'CAST("{c}" AS TEXT)' for c in cols)
                logical.extend(repr(tuple(row)) for row in conn.execute(sa.text(f'SELECT {sel} FROM "{t}"')))
    return Dump(b"\n".join(raw), "\n".join(logical))


def assert_no_plaintext(dump: Dump) -> None:
    text = dump.raw.decode("utf-8", "replace") + dump.logical
    for label, secret in SECRETS.items():
        assert secret.encode("utf-8") not in dump.raw, f"{label} found in the raw dump"
        assert secret not in text, f"{label} found in the dump"
    assert "01073912846" not in text and "7391-2846" not in text


def encrypted_value_count(engine) -> int:
    """Non-null values in every encrypted column, counted here from the model types themselves."""
    import detection.storage.tables  # noqa: F401
    from assistant.store.base import Base, EncryptedJSON, EncryptedText

    n = 0
    existing = set(table_names(engine))
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name not in existing:
                continue
            for col in table.columns:
                if isinstance(col.type, (EncryptedText, EncryptedJSON)) or (table.name, col.name) == (
                        "case_documents", "content"):
                    n += conn.execute(sa.text(f'SELECT count(*) FROM "{table.name}" WHERE "{col.name}" IS NOT NULL')
                                      ).scalar()
    return n


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


# --- encryption at rest ---------------------------------------------------------------------------

def test_a_raw_dump_reveals_none_of_the_personal_data(db, database_url):
    b = Builder(db)
    now = utcnow()
    with Session(db) as s, s.begin():
        p = b.person(s, NAME, PHONE, email=EMAIL)
        conv = b.conversation(s, SECRETS["user_ref"], now, person=p, text=SECRETS["message"], full=True)
        case = b.case(s, p, "service", now - timedelta(days=10), conversation=conv, full=True)
        pid, number = p.id, case.number
    # The application reads everything back (so the content really is stored) ...
    with Session(db) as s:
        p = s.get(Person, pid)
        assert (p.name, p.contact["phone"], p.contact["email"]) == (NAME, PHONE, EMAIL)
        case = s.scalar(select(Case).where(Case.number == number))
        doc = s.scalar(select(CaseDocument).where(CaseDocument.case_id == case.id))
        assert crypto.decrypt_bytes(doc.content).decode() == SECRETS["document"]
        assert doc.filename == SECRETS["filename"]
        bodies = s.scalars(select(CaseEntry.body).where(CaseEntry.case_id == case.id)).all()
        assert {"text": SECRETS["note"]} in bodies
        assert SECRETS["message"] in s.scalars(select(Message.text)).all()
    # ... and the dump alone shows none of it.
    dump = raw_dump(db, database_url)
    assert len(dump.tokens) >= encrypted_value_count(db)
    assert "intensive" in dump.logical  # the dump is real: clear columns are in it
    if dump.raw:
        assert b"intensive" in dump.raw and b"gAAAAA" in dump.raw
    assert_no_plaintext(dump)


# --- key rotation ---------------------------------------------------------------------------------

def seed_everything(b: Builder) -> dict:
    now = utcnow()
    with Session(b.engine) as s, s.begin():
        p = b.person(s, NAME, PHONE, email=EMAIL)
        conv = b.conversation(s, SECRETS["user_ref"], now, person=p, text=SECRETS["message"], full=True)
        case = b.case(s, p, "closed", now - timedelta(days=40), now - timedelta(days=5), conversation=conv, full=True)
        other = b.person(s, "다른사람", "010-0000-1111")
        b.conversation(s, "web-session-2", now, channel="web")
        b.case(s, other, "intake", now - timedelta(days=3))
        s.add(User(login="park", name="박관리", role="supervisor", password_hash="x", totp_secret="JBSWY3DPEHPK3PXP"))
        return {"person": p.id, "case": case.id, "conv": conv.id}


def read_back(engine, ids: dict) -> dict:
    """Everything decrypted through the application's models."""
    with Session(engine) as s:
        p = s.get(Person, ids["person"])
        case = s.get(Case, ids["case"])
        docs = s.scalars(select(CaseDocument).where(CaseDocument.case_id == case.id)).all()
        return {
            "person": (p.name, p.contact),
            "referred_by": case.referred_by,
            "steps": sorted(json.dumps(d, ensure_ascii=False) for d in s.scalars(
                select(CaseStep.data).where(CaseStep.case_id == case.id))),
            "services": sorted((sv.partner or "", sv.note or "") for sv in s.scalars(
                select(CaseService).where(CaseService.case_id == case.id))),
            "entries": sorted(json.dumps(e, ensure_ascii=False) for e in s.scalars(
                select(CaseEntry.body).where(CaseEntry.case_id == case.id))),
            "docs": sorted((d.filename, crypto.decrypt_bytes(d.content)) for d in docs),
            "followups": s.scalars(select(FollowUp.note).where(FollowUp.case_id == case.id)).all(),
            "messages": [(m.text, m.buttons, m.attachments) for m in s.scalars(
                select(Message).order_by(Message.id))],
            "user_refs": s.scalars(select(Conversation.user_ref).order_by(Conversation.id)).all(),
            "notes": s.scalars(select(ConversationNote.text).order_by(ConversationNote.id)).all(),
            "callbacks": s.scalars(select(KakaoCallback.url).order_by(KakaoCallback.id)).all(),
            "totp": s.scalars(select(User.totp_secret).order_by(User.id)).all(),
        }


def per_table_tokens(engine) -> dict[str, int]:
    from assistant.store.keys import encrypted_columns

    existing = set(table_names(engine))
    counts = {}
    with engine.connect() as conn:
        for t, cols in encrypted_columns().items():
            if t in existing:
                counts[t] = sum(conn.execute(sa.text(f'SELECT count(*) FROM "{t}" WHERE "{c}" IS NOT NULL')).scalar()
                                for c in cols)
    return counts


def test_rotation_moves_everything_to_the_new_key_and_the_old_key_can_go(db, env, database_url, capsys):
    from detection.pipeline.evidence import EvidenceStore

    key_a = get_settings().data_keys[0]
    b = Builder(db)
    ids = seed_everything(b)
    store = EvidenceStore.for_settings(get_settings())
    digest = store.put_file("증거 캡처 비밀 내용".encode())
    before = read_back(db, ids)
    expected = per_table_tokens(db)
    assert sum(expected.values()) == encrypted_value_count(db) > 20
    old_tokens = raw_dump(db, database_url).tokens
    assert len(old_tokens) >= sum(expected.values())

    key_b = Fernet.generate_key().decode()
    env(DASI_DATA_KEY=f"{key_b},{key_a}")
    code, out, err = run_cli(capsys, "keys", "rotate", "--batch", "3")  # small batches: several transactions
    assert code == 0, err
    reported = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()
                if line.split() and line.split()[0] in expected}
    assert reported == {t: n for t, n in expected.items()}  # every token was rewritten once
    assert re.search(r"evidence files\s+1\s+0\s+0", out)

    # Only the new key configured: everything still reads, the evidence file too.
    env(DASI_DATA_KEY=key_b)
    assert read_back(db, ids) == before
    assert store.read_file(digest) == "증거 캡처 비밀 내용".encode()

    # No token in a raw dump opens with the old key alone; each opens with the new one.
    dump = raw_dump(db, database_url)
    assert len(dump.tokens) >= sum(expected.values()) and not dump.tokens & old_tokens
    old, new = Fernet(key_a.encode()), Fernet(key_b.encode())
    for token in dump.tokens:
        with pytest.raises(InvalidToken):
            old.decrypt(token.encode())
        new.decrypt(token.encode())
    # Nor do the old tokens linger in the file (SQLite free pages, WAL) or in pg_dump's output.
    assert not [t for t in old_tokens if t.encode() in dump.raw]

    # Running again changes nothing: everything is already under the newest key.
    env(DASI_DATA_KEY=f"{key_b},{key_a}")
    snapshot = rows_dump(db)
    code, out, _ = run_cli(capsys, "keys", "rotate")
    assert code == 0
    assert all(int(line.split()[1]) == 0 for line in out.splitlines() if line.split() and line.split()[0] in expected)
    assert rows_dump(db) == snapshot


def test_an_interrupted_rotation_resumes_where_it_stopped(db, env, capsys):
    from assistant.store import keys

    key_a = get_settings().data_keys[0]
    b = Builder(db)
    ids = seed_everything(b)
    before = read_back(db, ids)
    total = encrypted_value_count(db)
    key_b = Fernet.generate_key().decode()
    env(DASI_DATA_KEY=f"{key_b},{key_a}")

    real, calls = crypto.rotate_token, {"n": 0}

    def failing(token: str) -> str:
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt  # the operator pressed Ctrl-C in the middle of a batch
        return real(token)

    keys.crypto.rotate_token = failing
    try:
        with pytest.raises(KeyboardInterrupt):
            keys.rotate_all(db, batch=2)
    finally:
        keys.crypto.rotate_token = real
    newest = Fernet(key_b.encode())
    with db.connect() as conn:
        person_tokens = conn.execute(sa.text("SELECT name, contact FROM persons ORDER BY id")).all()

    def under_b(token: str) -> bool:
        try:
            newest.decrypt(token.encode())
            return True
        except InvalidToken:
            return False
    done_before = sum(under_b(t) for row in person_tokens for t in row)
    assert 0 < done_before < total  # some batches were committed, not all

    code, out, err = run_cli(capsys, "keys", "rotate")
    assert code == 0, err
    rotated_now = sum(int(line.split()[1]) for line in out.splitlines()
                      if line.split() and line.split()[0] in per_table_tokens(db))
    current_now = sum(int(line.split()[2]) for line in out.splitlines()
                      if line.split() and line.split()[0] in per_table_tokens(db))
    assert rotated_now + current_now == total and current_now >= done_before
    env(DASI_DATA_KEY=key_b)
    assert read_back(db, ids) == before


def test_a_wrong_key_is_refused_clearly_and_changes_nothing(db, env, capsys):
    b = Builder(db)
    ids = seed_everything(b)
    with Session(db) as s, s.begin():
        b.conversation(s, "old-unlinked", utcnow() - timedelta(days=400), channel="web")
    snapshot = rows_dump(db)
    env(DASI_DATA_KEY=Fernet.generate_key().decode())  # the real key was lost
    for argv in (["keys", "rotate"], ["retention", "run", "--apply"], ["people", "erase", str(ids["person"]), "--yes"]):
        code, out, err = run_cli(capsys, *argv)
        assert code != 0 and "복호화할 수 없습니다" in err and "Traceback" not in err, argv
        assert rows_dump(db) == snapshot, argv
    env(DASI_DATA_KEY="not-a-fernet-key")
    for argv in (["keys", "rotate"], ["retention", "run", "--apply"], ["people", "erase", str(ids["person"]), "--yes"]):
        code, _, err = run_cli(capsys, *argv)
        assert code != 0 and "DASI_DATA_KEY" in err and "Traceback" not in err, argv
        assert rows_dump(db) == snapshot, argv


def test_a_value_the_application_rewrites_during_rotation_is_not_overwritten(db, env):
    from assistant.store import keys

    key_a = get_settings().data_keys[0]
    b = Builder(db)
    ids = seed_everything(b)
    key_b = Fernet.generate_key().decode()
    env(DASI_DATA_KEY=f"{key_b},{key_a}")
    real, fired = crypto.rotate_token, []

    def racing(token: str) -> str:
        if not fired and crypto.decrypt(token) == NAME:  # the name is saved anew between rotation's read and write
            fired.append(1)
            with Session(db) as s, s.begin():
                s.get(Person, ids["person"]).name = "새 이름"
        return real(token)

    keys.crypto.rotate_token = racing
    try:
        report = keys.rotate_database(db, batch=100)
    finally:
        keys.crypto.rotate_token = real
    assert report.columns["persons.name"].changed == 1 and report.changed == 1
    with Session(db) as s:
        assert s.get(Person, ids["person"]).name == "새 이름"


def test_keys_new_prints_a_usable_key(env, capsys):
    code, out, err = run_cli(capsys, "keys", "new")
    key = out.strip()
    assert code == 0 and Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"
    assert f"DASI_DATA_KEY={key}," in err
    assert run_cli(capsys, "keys", "new")[1].strip() != key


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


# --- upgrading from the previous release ----------------------------------------------------------

def test_upgrade_from_0005_keeps_conversations_readable(env, database_url, capsys):
    env(DASI_DATABASE_URL=database_url)
    upgrade(database_url, "0005")
    engine = make_sync_engine(database_url)
    now = utcnow().replace(microsecond=0)
    tz = sa.DateTime(timezone=True)
    users = sa.table("users", *[sa.column(c) for c in ("id", "login", "name", "role", "password_hash",
                                                        "totp_secret", "disabled", "failed_logins")],
                     sa.column("created_at", tz))
    convs = sa.table("conversations", *[sa.column(c) for c in ("id", "public_id", "channel", "user_key", "user_ref",
                                                               "state", "risk", "youth", "assignee_id")],
                     sa.column("created_at", tz), sa.column("updated_at", tz))
    msgs = sa.table("messages", *[sa.column(c) for c in ("id", "conversation_id", "direction", "author", "text",
                                                         "buttons", "attachments", "channel", "delivery")],
                    sa.column("created_at", tz))
    notes = sa.table("conversation_notes", sa.column("id"), sa.column("conversation_id"), sa.column("author_id"),
                     sa.column("text"), sa.column("created_at", tz))
    with engine.begin() as conn:
        conn.execute(sa.insert(users), [{"id": 1, "login": "kim", "name": "김상담", "role": "counsellor",
                                         "password_hash": "x", "totp_secret": crypto.encrypt("JBSWY3DPEHPK3PXP"),
                                         "disabled": False, "failed_logins": 0, "created_at": now}])
        conn.execute(sa.insert(convs), [
            {"id": i, "public_id": f"00000000-0000-0000-0000-00000000000{i}", "channel": ch,
             "user_key": crypto.blind_index(ch, f"user-{i}"), "user_ref": crypto.encrypt(f"user-{i}"),
             "state": "closed", "risk": "none", "youth": False, "assignee_id": 1 if i == 1 else None,
             "created_at": now - timedelta(days=400 * i), "updated_at": now - timedelta(days=400 * i)}
            for i, ch in ((1, "kakao"), (2, "web"))])
        conn.execute(sa.insert(msgs), [
            {"id": 1, "conversation_id": 1, "direction": "in", "author": "user",
             "text": crypto.encrypt(SECRETS["message"]),
             "buttons": None, "attachments": crypto.encrypt(json.dumps([{"type": "image", "url": "u"}])),
             "channel": "kakao", "delivery": "stored", "created_at": now - timedelta(days=400)},
            {"id": 2, "conversation_id": 1, "direction": "out", "author": "bot", "text": crypto.encrypt("답장"),
             "buttons": crypto.encrypt(json.dumps([{"title": "상담원", "payload": "/h"}], ensure_ascii=False)),
             "attachments": None, "channel": "kakao", "delivery": "sent", "created_at": now - timedelta(days=400)},
            {"id": 3, "conversation_id": 2, "direction": "in", "author": "user", "text": crypto.encrypt("웹 메시지"),
             "buttons": None, "attachments": None, "channel": "web", "delivery": "stored",
             "created_at": now - timedelta(days=800)}])
        conn.execute(sa.insert(notes), [{"id": 1, "conversation_id": 1, "author_id": 1, "text": crypto.encrypt("메모"),
                                         "created_at": now}])
        if engine.dialect.name == "postgresql":  # explicit ids: move the sequences past them, as real data would
            for t in ("users", "conversations", "messages", "conversation_notes"):
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))"))
    engine.dispose()

    upgrade(database_url)
    engine = make_sync_engine(database_url)
    if engine.dialect.name == "sqlite":  # tables rebuilt by batch migrations keep their foreign keys
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            refs = {r[2] for r in conn.exec_driver_sql("PRAGMA foreign_key_list(conversations)")}
            assert refs == {"users", "persons"}
            assert "conversations" in {r[2] for r in conn.exec_driver_sql("PRAGMA foreign_key_list(messages)")}
    try:
        with Session(engine) as s:
            c1 = s.get(Conversation, 1)
            assert c1.user_ref == "user-1" and c1.person_id is None and c1.purged_at is None
            assert c1.created_at == now - timedelta(days=400)
            assert [m.text for m in c1.messages] == [SECRETS["message"], "답장"]
            assert c1.messages[0].attachments == [{"type": "image", "url": "u"}]
            assert c1.messages[1].buttons == [{"title": "상담원", "payload": "/h"}]
            assert s.get(User, 1).totp_secret == "JBSWY3DPEHPK3PXP"
            assert s.get(ConversationNote, 1).text == "메모"
        # The new tables work with the old rows: a person and a case from the old conversation.
        b = Builder.__new__(Builder)
        b.engine, b.seq, b.user_id = engine, 0, 1
        with Session(engine) as s, s.begin():
            p = b.person(s, NAME, PHONE)
            s.get(Conversation, 1).person_id = p.id
            b.case(s, p, "intake", now - timedelta(days=1), conversation=s.get(Conversation, 1))
            pid = p.id
        # And the new commands run on it: the unlinked old web conversation is due for retention.
        code, out, err = run_cli(capsys, "retention", "run")
        assert code == 0 and "대화 1건 (미연결 1, 연결 0): web 1" in out, out + err
        key_b = Fernet.generate_key().decode()
        env(DASI_DATA_KEY=f"{key_b},{get_settings().data_keys[0]}")
        assert run_cli(capsys, "keys", "rotate")[0] == 0
        env(DASI_DATA_KEY=key_b)
        with Session(engine) as s:
            assert [m.text for m in s.get(Conversation, 1).messages] == [SECRETS["message"], "답장"]
            assert s.get(Person, pid).name == NAME
    finally:
        engine.dispose()


def test_the_encrypted_columns_found_cover_the_models(db):
    """Rotation scans the models; this pins what it finds so a new personal-data column is noticed."""
    from assistant.store.keys import encrypted_columns

    found = encrypted_columns()
    for table, col in [("persons", "name"), ("persons", "contact"), ("messages", "text"), ("messages", "buttons"),
                       ("messages", "attachments"), ("conversations", "user_ref"), ("case_entries", "body"),
                       ("case_documents", "filename"), ("case_documents", "content"), ("case_steps", "data"),
                       ("case_services", "note"), ("case_services", "partner"), ("case_followups", "note"),
                       ("cases", "referred_by"), ("users", "totp_secret"), ("conversation_notes", "text"),
                       ("kakao_callbacks", "url"), ("detection_posts", "text")]:
        assert col in found.get(table, []), f"{table}.{col}"
    assert "public_id" not in found.get("conversations", [])
