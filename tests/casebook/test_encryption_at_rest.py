"""Encryption at rest of the casebook's data on SQLite and PostgreSQL: a raw dump (the database files or
pg_dump's output) reveals none of the personal data the application reads back, and the upgrade from the
previous release's schema (0005) keeps the encrypted rows readable and works with the new commands.

Everything is driven through the real CLI (assistant.cli.main.main) against a temporary database, and
every expectation comes from how the test built its data, not from the code under test."""
from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.core.clock import utcnow
from assistant.core.settings import get_settings
from assistant.store import crypto
from assistant.store.db import make_sync_engine
from assistant.store.migrate import upgrade
from casebook.models import Case, CaseDocument, CaseEntry, Conversation, ConversationNote, Message, Person, User
from tests.casebook.protection_helpers import (
    EMAIL,
    NAME,
    PHONE,
    SECRETS,
    Builder,
    assert_no_plaintext,
    encrypted_value_count,
    raw_dump,
    run_cli,
)

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
