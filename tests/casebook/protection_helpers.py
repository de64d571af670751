"""Shared by the casebook protection tests (test_encryption_at_rest, test_key_rotation,
test_retention_and_erasure): the planted personal data, a builder that stores rows through the encrypted
models, the CLI runner, and what someone holding only the database would see (raw and logical dumps).
Not a test module: imported by them."""
from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from assistant.cli.main import main
from assistant.core.clock import utcnow
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


# --- builders and dumps ----------------------------------------------------------------------------

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
