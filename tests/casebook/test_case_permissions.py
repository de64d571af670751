"""Case records through the real gateway, on SQLite and PostgreSQL: permissions by role and ownership
(members, owner changes, roles without case records), the audit of every read (without content), and
linking a new conversation to an existing person."""
from __future__ import annotations

import json

import aiohttp
import pytest
from sqlalchemy import func, select

from assistant.store.db import sessionmaker
from casebook.conversations import service as conv_service
from casebook.models import AuditEntry, Case, CaseDocument, CaseService, Person
from tests.casebook.case_helpers import count, new_person, open_case

pytestmark = pytest.mark.usefixtures("cheap_hashes")  # test accounts: argon2 at its lowest cost


async def queued(user: str, channel: str = "web", text_: str = "도와주세요") -> str:
    """A conversation waiting for a counsellor."""
    async with sessionmaker()() as s, s.begin():
        conv = await conv_service.get_or_create_conversation(s, channel, user)
        await conv_service.store_inbound(s, conv, text_, None)
        await conv_service.request_handoff(s, conv, "bot", reason="requested")
        return conv.public_id


# --- permissions --------------------------------------------------------------------------------------

async def test_counsellors_see_their_cases_supervisors_all_other_roles_none(staff):
    kim, lee, park = await staff("kim"), await staff("lee"), await staff("park")
    a = (await open_case(kim, person=new_person("김의-사람")))["case"]
    b = (await open_case(lee, person=new_person("이의-사람")))["case"]
    upload = aiohttp.FormData()
    upload.add_field("file", b"%PDF-1.4 test", filename="b.pdf", content_type="application/pdf")
    doc = await lee.post(f"/api/console/cases/{b['number']}/documents", data=upload)
    assert doc.status == 201
    doc_id = (await doc.json())["document"]["id"]

    assert [c["number"] for c in (await kim.json("GET", "/api/console/cases"))["cases"]] == [a["number"]]
    assert (await kim.json("GET", "/api/console/cases"))["total"] == 1
    bb = f"/api/console/cases/{b['number']}"
    for resp in [await kim.get(bb), await kim.get(f"{bb}/documents/{doc_id}"),
                 await kim.post(f"{bb}/services", {"kind": "emotional", "minutes": 10}),
                 await kim.post(f"{bb}/entries", {"kind": "note", "body": {"text": "x"}}),
                 await kim.post(f"{bb}/transition", {"to": "eligibility", "data": {"eligible": True, "reason": "r"}}),
                 await kim.post(f"{bb}/members", {"login": "kim"}),
                 await kim.get(f"/api/console/persons/{b['person']['id']}")]:
        assert resp.status == 403, resp.url
    upload = aiohttp.FormData()
    upload.add_field("file", b"x", filename="x.txt", content_type="text/plain")
    assert (await kim.post(f"{bb}/documents", data=upload)).status == 403
    async with sessionmaker()() as s:
        assert await s.scalar(select(func.count()).select_from(CaseService)) == 0
        assert await s.scalar(select(func.count()).select_from(CaseDocument)) == 1
        denied = (await s.scalars(select(AuditEntry.action).where(AuditEntry.actor == "user:kim",
                                                                  AuditEntry.action.like("%.denied")))).all()
    assert "case.view.denied" in denied and "case.document.view.denied" in denied and "person.view.denied" in denied

    # The supervisor sees both; `mine` narrows to their own (none).
    park_list = await park.json("GET", "/api/console/cases")
    assert {c["number"] for c in park_list["cases"]} == {a["number"], b["number"]} and park_list["total"] == 2
    assert (await park.json("GET", "/api/console/cases?mine=1"))["total"] == 0
    await park.json("GET", bb)

    # The owner adds a member; the member may work on it but not add others or change the owner.
    await lee.json("POST", f"{bb}/members", {"login": "kim"})
    assert {c["number"] for c in (await kim.json("GET", "/api/console/cases"))["cases"]} == {a["number"], b["number"]}
    detail = (await kim.json("GET", bb))["case"]
    assert detail["members"] == [{"login": "kim", "name": "kim-이름"}] and detail["owner"]["login"] == "lee"
    await kim.json("POST", f"{bb}/services", {"kind": "emotional", "minutes": 10}, 201)
    assert (await kim.post(f"{bb}/members", {"login": "park"})).status == 403
    assert (await kim.post(f"{bb}/owner", {"login": "kim"})).status == 403
    # The supervisor moves kim's case to lee: lee now sees it, kim no longer does.
    moved = (await park.json("POST", f"/api/console/cases/{a['number']}/owner", {"login": "lee"}))["case"]
    assert moved["owner"] == {"login": "lee", "name": "lee-이름"}
    assert (await kim.get(f"/api/console/cases/{a['number']}")).status == 403
    await lee.json("GET", f"/api/console/cases/{a['number']}")
    assert (await park.post(f"{bb}/owner", {"login": "choi"})).status == 400  # an editor cannot own cases

    for login in ("choi", "jung"):  # editor and admin: no case records at all
        other = await staff(login)
        for resp in [await other.get("/api/console/cases"), await other.get(bb),
                     await other.get("/api/console/followups/due"),
                     await other.get(f"/api/console/persons/{b['person']['id']}"),
                     await other.post("/api/console/cases", {"route": "visit", "person": new_person()})]:
            assert resp.status == 403, (login, resp.url)
    assert await count(Case) == 2


# --- audit --------------------------------------------------------------------------------------------

async def test_every_read_is_audited_and_no_content_reaches_the_log(staff):
    kim, park = await staff("kim"), await staff("park")
    planted = ["PLANTED홍길동", "010-7731-4242", "PLANTED메모", "PLANTED가해자", "PLANTED.pdf", "PLANTEDBYTES",
               "PLANTED기관", "PLANTED사유"]
    case = (await open_case(kim, person={"name": planted[0], "contact": {"phone": planted[1]}},
                            referred_by=planted[6], route="referral"))["case"]
    number, person_id = case["number"], case["person"]["id"]
    base = f"/api/console/cases/{number}"
    await kim.json("POST", f"{base}/entries", {"kind": "note", "body": {"text": planted[2]}}, 201)
    await kim.json("POST", f"{base}/entries", {"kind": "incident", "body": {
        "what": planted[2], "when": "2025년 봄", "where": "서울", "perpetrators": [planted[3]]}}, 201)
    await kim.json("POST", f"{base}/services", {"kind": "legal", "minutes": 40, "partner": planted[6],
                                                "note": planted[2]}, 201)
    await kim.json("POST", f"{base}/transition", {"to": "eligibility", "data": {"eligible": True,
                                                                                "reason": planted[7]}})
    upload = aiohttp.FormData()
    upload.add_field("file", planted[5].encode(), filename=planted[4], content_type="application/pdf")
    doc_id = (await (await kim.post(f"{base}/documents", data=upload)).json())["document"]["id"]
    async with sessionmaker()() as s:
        before = await s.scalar(select(func.max(AuditEntry.id)))

    download = await kim.get(f"{base}/documents/{doc_id}")
    assert download.status == 200 and await download.read() == planted[5].encode()
    assert download.headers["Content-Disposition"].startswith("attachment;")
    detail = (await kim.json("GET", base))["case"]
    assert detail["person"]["name"] == planted[0] and detail["entries"][1]["body"]["perpetrators"] == [planted[3]]
    await kim.json("GET", "/api/console/cases")
    await kim.json("GET", f"/api/console/persons/{person_id}")
    await kim.json("GET", "/api/console/followups/due")
    await park.json("GET", base)

    async with sessionmaker()() as s:
        reads = (await s.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.record_type,
                                        AuditEntry.record_id).where(AuditEntry.id > before)
                                 .order_by(AuditEntry.id))).all()
        rows = (await s.scalars(select(AuditEntry))).all()
    assert [tuple(r) for r in reads] == [
        ("user:kim", "case.document.view", "case", number), ("user:kim", "case.view", "case", number),
        ("user:kim", "case.list", "case", ""), ("user:kim", "person.view", "person", str(person_id)),
        ("user:kim", "followups.due", "case", ""), ("user:park", "case.view", "case", number)]
    dumped = "\n".join(json.dumps([r.actor, r.action, r.record_type, r.record_id, r.ip, r.detail],
                                  ensure_ascii=False) for r in rows)
    assert "case.open" in dumped and "case.entry" in dumped and "case.document" in dumped
    for secret in planted:
        assert secret not in dumped, secret

    # At rest the document and the entries are ciphertext.
    async with sessionmaker()() as s:
        raw = (await s.execute(select(func.count()).select_from(CaseDocument)
                               .where(CaseDocument.content.contains("PLANTED")))).scalar()
    assert raw == 0


# --- people and conversations --------------------------------------------------------------------------

async def test_a_new_conversation_is_linked_to_an_existing_person(staff):
    kim, lee = await staff("kim"), await staff("lee")
    first = await queued("person-a", "web")
    assert (await kim.post(f"/api/console/conversations/{first}/claim")).status == 200
    case = (await kim.json("POST", "/api/console/cases", {"conversation_id": first, "route": "phone",
                                                           "person": new_person("가명-바다")}, 201))["case"]
    assert (case["route"], case["channel"]) == ("online", "web")
    assert [c["id"] for c in case["conversations"]] == [first]
    assert [(s["from"], s["to"]) for s in case["steps"]] == [(None, "intake")]
    person_id = case["person"]["id"]

    second = await queued("person-a-kakao", "kakao")  # the same person, another channel, days later
    # Not held by lee and lee has no case with the person: refused.
    assert (await lee.post(f"/api/console/conversations/{second}/person", {"person_id": person_id})).status == 403
    assert (await kim.post(f"/api/console/conversations/{second}/claim")).status == 200
    linked = (await kim.json("POST", f"/api/console/conversations/{second}/person", {"person_id": person_id}))
    assert linked["person"]["id"] == person_id
    view = (await kim.json("GET", f"/api/console/persons/{person_id}"))["person"]
    assert [c["id"] for c in view["conversations"]] == [first, second]
    assert [c["channel"] for c in view["conversations"]] == ["web", "kakao"]
    assert view["cases"] == [case["number"]] and view["name"] == "가명-바다"

    # A second case for the same person (continuing support), opened from the new conversation.
    later = (await kim.json("POST", "/api/console/cases", {"conversation_id": second}, 201))["case"]
    assert later["person"]["id"] == person_id and later["channel"] == "kakao"
    view = (await kim.json("GET", f"/api/console/persons/{person_id}"))["person"]
    assert view["cases"] == [case["number"], later["number"]]
    detail = (await kim.json("GET", f"/api/console/cases/{case['number']}"))["case"]
    assert [c["id"] for c in detail["conversations"]] == [first, second]

    # A conversation already linked to someone else is not silently moved.
    other = (await open_case(kim, person=new_person("다른-사람")))["case"]["person"]["id"]
    assert (await kim.post(f"/api/console/conversations/{second}/person", {"person_id": other})).status == 409
    async with sessionmaker()() as s:
        assert await s.scalar(select(func.count()).select_from(Person)) == 2
