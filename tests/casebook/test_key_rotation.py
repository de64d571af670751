"""Key rotation of the casebook's encrypted data on SQLite and PostgreSQL (`dasi keys rotate`): every
token moves to the new key so the old one can go, an interrupted rotation resumes, a wrong key is refused
with nothing changed, a value rewritten mid-rotation is not overwritten, `dasi keys new`, and the list of
encrypted columns rotation scans.

Everything is driven through the real CLI (assistant.cli.main.main) against a temporary database, and
every expectation comes from how the test built its data, not from the code under test."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.core.clock import utcnow
from assistant.core.settings import get_settings
from assistant.store import crypto
from casebook.models import (
    Case,
    CaseDocument,
    CaseEntry,
    CaseService,
    CaseStep,
    Conversation,
    ConversationNote,
    FollowUp,
    KakaoCallback,
    Message,
    Person,
    User,
)
from tests.casebook.protection_helpers import (
    EMAIL,
    NAME,
    PHONE,
    SECRETS,
    Builder,
    encrypted_value_count,
    raw_dump,
    rows_dump,
    run_cli,
    table_names,
)

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
