"""What the outreach tests share: youth-flagged posts (adult lurers, one contact written three ways, a young
person writing about themselves, a board without an API), the pipeline's scan over them, staff signed in
to the real gateway over HTTP, and reads of the outreach tables and the audit log."""
from __future__ import annotations

import json
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.store.db import make_sync_engine, sessionmaker
from casebook.models import AuditEntry
from casebook.staff import accounts
from detection.outreach.tables import OutreachDraft, OutreachTarget
from detection.pipeline.scan import scan
from detection.storage.tables import DetectionReport
from tests.detection.test_detection_pipeline import FakeClassifier, write_jsonl, write_sources
from tests.fakes.server import request

PASSWORD = "아웃리치-테스트-비밀번호-19"
PHONE = "01012345678"
POSTS = [
    {"id": "1001", "platform": "x", "url": "https://x.example/1001", "account": "Lure_One",
     "text": "고딩 민짜 환영 조건만남 용돈 10만 010-1234-5678", "posted_at": "2026-11-20T10:00:00Z"},
    {"id": "1002", "platform": "x", "url": "https://x.example/1002", "account": "lure_two",
     "text": "민짜 환영 조건만남 15만 연락 010 1234 5678", "posted_at": "2026-11-20T11:00:00Z"},
    {"id": "1003", "platform": "x", "url": "https://x.example/1003", "account": "lure_three",
     "text": "고딩 조건만남 용돈 드림 공일공 일이삼사 오육칠팔", "posted_at": "2026-11-20T12:00:00Z"},
    {"id": "1004", "platform": "x", "url": "https://x.example/1004", "account": "teen_self",
     "text": "저 17살인데 조건만남 구해요 용돈 주실분", "posted_at": "2026-11-20T13:00:00Z"},
    {"id": "1005", "platform": "x", "url": "https://x.example/1005", "account": "office_ad",
     "text": "강남 오피 신규 20대 후불 예약", "posted_at": "2026-11-20T14:00:00Z"},
    {"id": "b1", "platform": "board", "url": "https://board.example/b1", "account": "board_user",
     "text": "민짜 조건만남 카톡: kidlure 문의", "posted_at": "2026-11-20T15:00:00Z"},
]
# Drafts the posts above must give: (post id on the platform, template) — nothing for 1005 (not youth).
EXPECTED = {("1001", "warning"), ("1001", "guidance_readers"), ("1002", "warning"), ("1002", "guidance_readers"),
            ("1003", "warning"), ("1003", "guidance_readers"), ("1004", "guidance_self"),
            ("b1", "warning"), ("b1", "guidance_readers")}


async def seed(settings: Any, tmp_path: Path, posts: list[dict] | None = None) -> int:
    """Scan the posts through the pipeline (import source, the keyword classifier double)."""
    write_jsonl(tmp_path / "outreach.jsonl", posts or POSTS)
    write_sources(tmp_path, {"outreach": {"kind": "import", "path": "outreach.jsonl"}})
    result = await scan(settings, "outreach", classifier=FakeClassifier())
    return result.flagged


async def add_staff(settings: Any) -> None:
    async with sessionmaker(settings.database_url)() as s, s.begin():
        await accounts.create_user(s, "kim", "김상담", "counsellor", PASSWORD)
        await accounts.create_user(s, "ed", "편집자", "editor", PASSWORD)


@dataclass
class Staff:
    """A staff member signed in to the gateway over real HTTP."""

    url: str
    cookie: str = ""
    csrf: str = ""

    @classmethod
    def sign_in(cls, url: str, login: str) -> Staff:
        status, headers, raw, _ = request("POST", url + "/api/console/login",
                                          json.dumps({"login": login, "password": PASSWORD}).encode(),
                                          {"Content-Type": "application/json"})
        assert status == 200, raw
        jar = SimpleCookie(headers["Set-Cookie"])
        return cls(url, "; ".join(f"{k}={m.value}" for k, m in jar.items()), json.loads(raw)["csrf_token"])

    def get(self, path: str) -> tuple[int, dict]:
        status, _, raw, _ = request("GET", self.url + path, headers={"Cookie": self.cookie})
        return status, json.loads(raw)

    def post(self, path: str, body: dict | None = None) -> tuple[int, dict]:
        status, _, raw, _ = request("POST", self.url + path, json.dumps(body or {}).encode(),
                                    {"Cookie": self.cookie, "X-CSRF-Token": self.csrf,
                                     "Content-Type": "application/json"})
        return status, json.loads(raw)


def read(database_url: str, fn) -> Any:
    engine = make_sync_engine(database_url)
    try:
        with Session(engine) as s:
            return fn(s)
    finally:
        engine.dispose()


def drafts(database_url: str) -> list[dict]:
    def q(s: Session) -> list[dict]:
        from detection.storage.tables import DetectedPost
        rows = s.execute(select(OutreachDraft, DetectedPost.post_id).join(
            DetectedPost, DetectedPost.id == OutreachDraft.post_id).order_by(OutreachDraft.id)).all()
        return [{"id": d.id, "post": pid, "template": d.template, "kind": d.kind, "via": d.via, "status": d.status,
                 "text": d.text, "target_id": d.target_id, "decided_by": d.decided_by} for d, pid in rows]
    return read(database_url, q)


def draft_id(database_url: str, post: str, template: str) -> int:
    return next(d["id"] for d in drafts(database_url) if d["post"] == post and d["template"] == template)


def audit_entries(database_url: str, prefix: str = "outreach.") -> list[AuditEntry]:
    return read(database_url, lambda s: list(s.scalars(select(AuditEntry).where(
        AuditEntry.action.like(prefix + "%")).order_by(AuditEntry.id))))


def targets(database_url: str) -> list[OutreachTarget]:
    return read(database_url, lambda s: list(s.scalars(select(OutreachTarget).order_by(OutreachTarget.id))))


def reports(database_url: str) -> list[DetectionReport]:
    return read(database_url, lambda s: list(s.scalars(select(DetectionReport).order_by(DetectionReport.id))))
