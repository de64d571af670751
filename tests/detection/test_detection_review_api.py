"""The detection review's JSON routes against the real gateway, over real HTTP from plain code (so that
hypothesis can drive them): bad query values and bodies are 4xx, never a 500, and a refused request
changes nothing (no decision, no audit entry, no labelled row). Security review, finding 11 and the
fuzzing pass; tests/connectors/test_connector_fuzz.py does the same for the webhooks."""
from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assistant.core.settings import get_settings
from assistant.store.db import close_engines, make_sync_engine, sessionmaker
from assistant.store.migrate import upgrade
from casebook.models import AuditEntry
from casebook.staff import accounts
from connectors.gateway import create_app
from detection.pipeline.scan import scan
from detection.storage import queries as store
from detection.storage.tables import DetectedPost
from tests.conftest import free_port
from tests.detection.test_detection_pipeline import POSTS, FakeClassifier, write_jsonl, write_sources
from tests.fakes.server import ServerThread, request
from tests.fuzzing import FUZZ, json_values

pytestmark = pytest.mark.usefixtures("cheap_hashes")

PASSWORD = "검토-퍼즈-비밀번호-42"


@dataclass
class Review:
    url: str
    database_url: str
    cookie: str = ""
    csrf: str = ""

    def get(self, path: str) -> tuple[int, dict]:
        status, _, raw, _ = request("GET", self.url + path, headers={"Cookie": self.cookie})
        return status, json.loads(raw)

    def post(self, path: str, body: bytes, content_type: str = "application/json") -> tuple[int, bytes]:
        headers = {"Cookie": self.cookie, "X-CSRF-Token": self.csrf, "Content-Type": content_type}
        status, _, raw, _ = request("POST", self.url + path, body, headers)
        return status, raw

    def state(self) -> tuple:
        """Everything a decision writes: the posts' review fields (the labelled data), detection audit entries."""
        engine = make_sync_engine(self.database_url)
        try:
            with Session(engine) as s:
                posts = [tuple(r) for r in s.execute(select(
                    DetectedPost.id, DetectedPost.status, DetectedPost.category, DetectedPost.reviewed_by,
                    DetectedPost.reviewed_at).order_by(DetectedPost.id))]
                audit = s.scalar(select(func.count()).select_from(AuditEntry)
                                 .where(AuditEntry.action.like("detection.%")))
        finally:
            engine.dispose()
        return posts, audit


@pytest.fixture
def review(env, tmp_path) -> Iterator[Review]:
    """The gateway with the pipeline's four flagged posts and a counsellor signed in."""
    write_jsonl(tmp_path / "batch.jsonl", POSTS)
    env(DASI_DETECT_SOURCES=str(write_sources(tmp_path, {"batch": {"kind": "import", "path": "batch.jsonl"}})),
        DASI_RASA_URL=f"http://127.0.0.1:{free_port()}",
        DASI_ACTIONS_URL=f"http://127.0.0.1:{free_port()}")
    settings_ = get_settings()
    upgrade()
    loop = ServerThread()

    async def prepare() -> int:
        result = await scan(settings_, "batch", classifier=FakeClassifier())
        async with sessionmaker(settings_.database_url)() as s, s.begin():
            await accounts.create_user(s, "kim", "김상담", "counsellor", PASSWORD)
        return result.flagged

    try:
        assert loop.run(prepare()) == 4
        r = Review(url=loop.serve(create_app(settings_)), database_url=settings_.database_url)
        status, headers, raw, _ = request("POST", r.url + "/api/console/login",
                                          json.dumps({"login": "kim", "password": PASSWORD}).encode(),
                                          {"Content-Type": "application/json"})
        assert status == 200, raw
        jar = SimpleCookie(headers["Set-Cookie"])
        r.cookie = "; ".join(f"{k}={m.value}" for k, m in jar.items())
        r.csrf = json.loads(raw)["csrf_token"]
        yield r
    finally:
        loop.run(close_engines())
        loop.stop()


def flagged_ids(r: Review) -> list[int]:
    return [p[0] for p in r.state()[0] if p[1] == "flagged"]


# --- finding 11: the queue's limit, the decision's body ------------------------------------------------

def test_a_limit_that_is_not_a_number_is_a_400(review):
    for bad in ("abc", "1.5", "1e3", "٣x"):
        status, body = review.get(f"/api/detection/queue?limit={urllib.parse.quote(bad)}")
        assert (status, body["error"]) == (400, "invalid_limit"), (bad, body)


def test_the_limit_is_clamped_to_1_to_500(review):
    def count(limit: str) -> int:
        status, body = review.get(f"/api/detection/queue?limit={limit}")
        assert status == 200, body
        return len(body["posts"])
    assert [count(x) for x in ("-1", "-100", "0", "2", "")] == [1, 1, 1, 2, 4]  # a negative limit was every row
    assert count(str(10**30)) == 4  # at most 500, and no overflow in the database


def test_a_decision_body_must_be_a_json_object(review):
    before = review.state()
    post = flagged_ids(review)[0]
    for body in (b'["approve"]', b'"reject"', b"3", b"null", b"[" * 5000 + b"]" * 5000):
        status, raw = review.post(f"/api/detection/posts/{post}/decision", body)
        assert status == 400 and json.loads(raw)["error"] in ("invalid_body", "invalid_json"), (body[:20], raw)
    status, raw = review.post(f"/api/detection/posts/{post}/decision", b'{"decision": "reject"}', "text/plain")
    assert status == 415, raw
    assert review.state() == before


def test_post_ids_out_of_range_are_not_found(review):
    before = review.state()
    for post in (str(2**31), str(10**30), "-1", "0"):
        status, raw = review.post(f"/api/detection/posts/{post}/decision", b'{"decision": "reject"}')
        assert status == 404, (post, raw)
    assert review.state() == before


def test_a_valid_decision_still_works(review):
    post = flagged_ids(review)[0]
    status, raw = review.post(f"/api/detection/posts/{post}/decision", b'{"decision": "reject"}')
    assert status == 200 and json.loads(raw)["status"] == "rejected", raw
    assert post not in flagged_ids(review)
    engine = make_sync_engine(review.database_url)
    try:
        with Session(engine) as s:
            assert [r["category"] for r in store.labelled(s) if r["id"] == f"review-{post}"] == ["none"]
    finally:
        engine.dispose()


# --- fuzzing: no 500s, and nothing stored on a refused request ---------------------------------------

decisions = st.one_of(st.sampled_from(["approve", "reject", "APPROVE", "", "approve ", "delete"]), json_values)
categories = st.one_of(st.sampled_from(["outcall", "venue", "recruit", "none", "Outcall"]), json_values)


@st.composite
def decision_bodies(draw) -> bytes:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.binary(max_size=200))
    if kind == 1:
        return json.dumps(draw(json_values)).encode()
    if kind == 2:  # the documented shape with wrong or unexpected values
        body = {"decision": draw(decisions)}
        if draw(st.booleans()):
            body["category"] = draw(categories)
        body.update(draw(st.dictionaries(st.text(max_size=8), json_values, max_size=2)))
        return json.dumps(body).encode()
    if kind == 3:
        return b'{"decision": "reject", "pad": "' + b"x" * 70_000 + b'"}'  # > 64 KiB
    if kind == 4:
        return b"[" * 5000 + b"]" * 5000  # deep nesting
    return b"\xff\xfe{not utf-8}"


post_paths = st.one_of(st.integers(-5, 10).map(str), st.integers(-2**70, 2**70).map(str), st.text(max_size=20))


def test_decisions_never_give_a_500_and_a_refusal_stores_nothing(review):
    @FUZZ
    @given(post=post_paths, body=decision_bodies(),
           content_type=st.sampled_from(["application/json"] * 4 + ["text/plain", ""]))
    def check(post, body, content_type):
        before = review.state()
        path = f"/api/detection/posts/{urllib.parse.quote(post, safe='')}/decision"
        status, raw = review.post(path, body, content_type)
        assert status < 500, (status, raw[:300])
        if status >= 400:
            assert json.loads(raw)["error"], raw[:300]
            assert review.state() == before, (post, body[:100])
    check()


def test_queue_queries_never_give_a_500(review):
    @FUZZ
    @given(limit=st.one_of(st.integers(-2**70, 2**70).map(str), st.text(max_size=20)),
           extra=st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3))
    def check(limit, extra):
        query = urllib.parse.urlencode({**extra, "limit": limit})
        status, body = review.get(f"/api/detection/queue?{query}")
        assert status in (200, 400), (status, body)
        if status == 200:
            assert 1 <= len(body["posts"]) <= 4
    check()
