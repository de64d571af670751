"""Case records through the real gateway, on SQLite and PostgreSQL: bad input (fields, dates, kinds,
sizes, documents) refused clearly with nothing stored, a document exactly at the size limit accepted,
and the cases page served with the console's headers."""
from __future__ import annotations

import aiohttp
import pytest

from casebook.console.pages import STATIC
from casebook.models import Case, CaseDocument, CaseEntry, CaseMember, CaseService, CaseStep, FollowUp, Person
from tests.casebook.case_helpers import count, new_person, open_case

pytestmark = pytest.mark.usefixtures("cheap_hashes")  # test accounts: argon2 at its lowest cost


# --- bad input ----------------------------------------------------------------------------------------

async def test_bad_input_is_refused_clearly_and_nothing_is_stored(staff):
    kim = await staff("kim")
    number = (await open_case(kim, opened_at="2025-05-01"))["case"]["number"]
    base = f"/api/console/cases/{number}"
    models = (Person, Case, CaseStep, CaseService, CaseEntry, CaseDocument, FollowUp, CaseMember)
    before = [await count(m) for m in models]
    bad = [
        ("/api/console/cases", {"route": "boat", "person": new_person()}, 400),
        ("/api/console/cases", {"route": "visit", "person_id": "7"}, 400),
        ("/api/console/cases", {"route": "visit", "person_id": 99999}, 400),
        ("/api/console/cases", {"route": "visit", "person": {"name": 5}}, 400),
        ("/api/console/cases", {"route": "visit", "person": {"name": "a", "age": 3}}, 400),
        ("/api/console/cases", {"route": "visit", "person": {"name": "a", "contact": {"phone": 1}}}, 400),
        ("/api/console/cases", {"route": "visit", "person": {"name": "a", "youth": "yes"}}, 400),
        ("/api/console/cases", {"route": "visit", "person": new_person(), "opened_at": "2025-13-45"}, 400),
        ("/api/console/cases", {"route": "visit", "person": new_person(), "opened_at": "2099-01-01"}, 400),
        ("/api/console/cases", {"route": "visit", "person": new_person(), "opened_at": 20250101}, 400),
        ("/api/console/cases", {"route": "visit", "person": new_person(), "colour": "red"}, 400),
        ("/api/console/cases", {"route": "visit"}, 400),
        ("/api/console/cases", {"conversation_id": "00000000-0000-0000-0000-000000000000"}, 404),
        (f"{base}/services", {"kind": "massage", "minutes": 30}, 400),
        (f"{base}/services", {"kind": "emotional", "minutes": "30"}, 400),
        (f"{base}/services", {"kind": "emotional", "minutes": -1}, 400),
        (f"{base}/services", {"kind": "emotional", "minutes": True}, 400),
        (f"{base}/services", {"kind": "emotional", "minutes": 30, "on": "yesterday"}, 400),
        (f"{base}/services", {"kind": "emotional", "minutes": 30, "on": "2025-04-30"}, 400),  # before opening
        (f"{base}/services", {"kind": "legal", "minutes": 30}, 400),  # partner required
        (f"{base}/entries", {"kind": "gossip", "body": {"text": "x"}}, 400),
        (f"{base}/entries", {"kind": "note", "body": {}}, 400),
        (f"{base}/entries", {"kind": "note", "body": "text"}, 400),
        (f"{base}/entries", {"kind": "incident", "body": {"what": "x", "why": "y"}}, 400),
        (f"{base}/entries", {"kind": "note", "body": {"text": "가" * 10_001}}, 413),
        (f"{base}/transition", {"to": "nowhere", "data": {}}, 400),
        (f"{base}/transition", {"to": "eligibility", "data": ["eligible"]}, 400),
        (f"{base}/transition", {"to": "eligibility", "data": {"eligible": "yes", "reason": "r"}}, 400),
        (f"{base}/transition", {"to": "eligibility", "data": {"eligible": True, "reason": "r"}, "on": "2025-02-30"},
         400),
        (f"{base}/followups/1/done", {}, 404),
        (f"{base}/members", {"login": "nobody"}, 400),
        ("/api/console/cases/2025-9999", None, 404),
        ("/api/console/cases", {"route": "visit", "person_id": 10**12}, 400),
        ("/api/console/persons/99999999999999", None, 404),
        (f"{base}/documents/99999999999999", None, 404),
        (f"{base}/followups/99999999999999/done", {}, 404),
    ]
    for path, body, status in bad:
        resp = await (kim.get(path) if body is None else kim.post(path, body))
        payload = await resp.json()
        assert resp.status == status and payload["error"] and payload["message"], (path, body, resp.status, payload)
    not_json = await kim.http.post(kim.base + f"{base}/services", data="kind=emotional",
                                   headers={"X-CSRF-Token": kim.csrf, "Content-Type": "text/plain"})
    assert not_json.status == 415
    for query in ("step=flying", "limit=abc", "limit=0", "limit=100000", "offset=-1"):
        assert (await kim.get(f"/api/console/cases?{query}")).status == 400, query

    # Documents: too large (10 MB + 1 byte), empty, not multipart, no file field.
    limit = 10 * 1024 * 1024
    big = aiohttp.FormData()
    big.add_field("file", b"\0" * (limit + 1), filename="big.bin", content_type="application/octet-stream")
    resp = await kim.post(f"{base}/documents", data=big)
    assert resp.status == 413 and (await resp.json())["error"] == "file_too_large"
    empty = aiohttp.FormData()
    empty.add_field("file", b"", filename="empty.txt", content_type="text/plain")
    assert (await kim.post(f"{base}/documents", data=empty)).status == 400
    assert (await kim.post(f"{base}/documents", {"file": "abc"})).status == 415
    other = aiohttp.FormData(default_to_multipart=True)
    other.add_field("note", "no file here")
    assert (await kim.post(f"{base}/documents", data=other)).status == 400
    for ctype, raw in (("multipart/form-data", b"no boundary"),
                       ("multipart/form-data; boundary=xyz", b"--xyz\r\nbroken")):
        resp = await kim.http.post(kim.base + f"{base}/documents", data=raw,
                                   headers={"X-CSRF-Token": kim.csrf, "Content-Type": ctype})
        assert resp.status == 400, (ctype, resp.status, await resp.text())
    assert [await count(m) for m in models] == before

    # Exactly at the limit is accepted and comes back byte for byte.
    payload = bytes(range(256)) * (limit // 256)
    ok_form = aiohttp.FormData()
    ok_form.add_field("file", payload, filename="증빙 자료.bin", content_type="application/octet-stream")
    resp = await kim.post(f"{base}/documents", data=ok_form)
    assert resp.status == 201, await resp.text()
    doc = (await resp.json())["document"]
    assert (doc["filename"], doc["size"]) == ("증빙 자료.bin", limit)
    got = await kim.get(f"{base}/documents/{doc['id']}")
    assert got.status == 200 and await got.read() == payload
    assert "filename*=UTF-8''%EC%A6%9D" in got.headers["Content-Disposition"]


async def test_the_page_is_served_with_the_console_headers(staff):
    b = await staff()
    resp = await b.get("/console/cases")
    assert resp.status == (200 if (STATIC / "cases.html").is_file() else 404)
    if resp.status == 200:
        assert resp.headers["Cache-Control"] == "no-store" and resp.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert (await b.get("/api/console/cases")).status == 401  # the data needs a sign-in
