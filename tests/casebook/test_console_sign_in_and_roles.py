"""The console's JSON API in the real gateway app, on SQLite and PostgreSQL: sign-in, cookies, CSRF,
TOTP, logout and disabling, and every role boundary (who may see the queue, the audit, the users
and the knowledge admin, and who may read which conversation). Throttling, TOTP replay and passwords:
test_console_sign_in_security."""
from __future__ import annotations

import json

import pyotp
import pytest
from sqlalchemy import func, select

from assistant.store.db import sessionmaker
from casebook.models import AuditEntry
from casebook.staff import accounts
from tests.casebook.console_helpers import error, path, queued
from tests.console_client import PASSWORD, USERS

pytestmark = pytest.mark.usefixtures("cheap_hashes")  # test accounts: argon2 at its lowest cost


# --- sign-in, cookies, CSRF, lockout, TOTP -------------------------------------------------------

async def test_login_returns_csrf_and_a_strict_httponly_cookie(gateway):
    _, staff = gateway
    b = await staff()
    resp = await b.login("kim")
    assert resp.status == 200
    body = await resp.json()
    assert len(body["csrf_token"]) >= 32 and body["user"] == {"login": "kim", "name": "kim-이름", "role": "counsellor"}
    cookie = resp.cookies["dasi_console"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert not cookie["secure"]  # plain http in the test; Secure is set whenever the request is https
    me = await b.get("/api/console/me")
    assert (await me.json())["csrf_token"] == body["csrf_token"]
    assert (me.headers["Cache-Control"] == "no-store"
            and "frame-ancestors 'none'" in me.headers["Content-Security-Policy"])

    wrong, unknown = await (await staff()).login("kim", "틀린-비밀번호-123"), await (await staff()).login("nobody")
    assert wrong.status == unknown.status == 401  # the same answer: nobody learns which logins exist
    assert await error(wrong) == await error(unknown) == "invalid_credentials"


async def test_state_changes_need_the_csrf_token(gateway):
    _, staff = gateway
    conv = await queued()
    kim = await staff("kim")
    for csrf in ("", "not-the-token"):
        resp = await kim.post(path(conv, "claim"), csrf=csrf)
        assert resp.status == 403 and await error(resp) == "csrf_failed"
    assert (await kim.post("/api/console/logout", csrf="")).status == 403
    assert (await kim.post(path(conv, "claim"))).status == 200
    other = await staff("lee")  # another session's token is not this session's
    assert (await kim.post(path(conv, "release"), csrf=other.csrf)).status == 403


async def test_totp_for_a_supervisor(gateway):
    _, staff = gateway
    async with sessionmaker()() as s, s.begin():
        user = await accounts.create_user(s, "han", "한", "supervisor", PASSWORD, totp=True)
        secret = user.totp_secret
    b = await staff()
    first = await b.login("han", totp=None)
    assert first.status == 401 and await error(first) == "invalid_credentials"  # as if the password were wrong
    assert (await b.login("han", totp="000000" if pyotp.TOTP(secret).now() != "000000" else "111111")).status == 401
    assert (await b.login("han", totp=pyotp.TOTP(secret).now())).status == 200
    with pytest.raises(accounts.AccountError):  # TOTP is offered to supervisors and admins
        async with sessionmaker()() as s, s.begin():
            await accounts.create_user(s, "yoon", "윤", "counsellor", PASSWORD, totp=True)


async def test_logout_and_disabling_end_the_session(gateway):
    _, staff = gateway
    kim, lee = await staff("kim"), await staff("lee")
    assert (await kim.post("/api/console/logout")).status == 200
    assert (await kim.get("/api/console/queue")).status == 401
    async with sessionmaker()() as s, s.begin():
        assert await accounts.disable_user(s, "lee")
    assert (await lee.get("/api/console/queue")).status == 401
    assert (await (await staff()).login("lee")).status == 401


# --- roles -------------------------------------------------------------------------------------------

async def test_every_role_boundary(gateway):
    _, staff = gateway
    conv = await queued()
    signed_out = await staff()
    for url in ("/api/console/queue", path(conv), "/api/console/audit", "/api/console/users", "/api/console/me"):
        resp = await signed_out.get(url)
        assert resp.status == 401 and await error(resp) == "not_signed_in", url
    assert (await signed_out.post(path(conv, "claim"))).status == 401

    browsers = {login: await staff(login) for login in USERS}
    expected = {  # url: the logins that may, everyone else gets 403
        "/api/console/queue": {"kim", "lee", "park"},
        path(conv): {"kim", "lee", "park"},  # waiting: counsellors may look before claiming
        "/api/console/canned": {"kim", "lee", "park"},
        "/api/console/audit": {"park"},
        "/api/console/users": {"jung"},
    }
    for url, allowed in expected.items():
        for login, b in browsers.items():
            resp = await b.get(url)
            assert resp.status == (200 if login in allowed else 403), (url, login, resp.status)
    for login in ("choi", "jung"):  # editors and admins do not take conversations
        resp = await browsers[login].post(path(conv, "claim"))
        assert resp.status == 403 and await error(resp) == "forbidden"
    created = await browsers["kim"].post("/api/console/users", {"login": "x1", "name": "x", "role": "admin",
                                                                "password": PASSWORD})
    assert created.status == 403

    # The knowledge admin: editors and admins with their console account; counsellors are sent to sign in.
    for login, status in (("choi", 200), ("jung", 200), ("kim", 303), ("park", 303)):
        resp = await browsers[login].get("/admin/knowledge")
        assert resp.status == status, login


async def test_an_editor_account_uses_the_knowledge_admin_and_signs_out_there(gateway):
    _, staff = gateway
    choi = await staff("choi")
    page = await choi.get("/admin/knowledge")
    assert page.status == 200 and choi.csrf in await page.text()  # its forms carry the account's token
    assert (await choi.http.post(choi.base + "/admin/logout", data={"csrf": "wrong"})).status == 403
    out = await choi.http.post(choi.base + "/admin/logout", data={"csrf": choi.csrf}, allow_redirects=False)
    assert out.status == 303
    assert (await choi.get("/api/console/me")).status == 401
    assert (await choi.get("/admin/knowledge")).status == 303  # back to sign-in


async def test_a_counsellor_cannot_read_another_counsellors_conversation(gateway):
    _, staff = gateway
    conv = await queued()
    kim, lee, park = await staff("kim"), await staff("lee"), await staff("park")
    assert (await kim.post(path(conv, "claim"))).status == 200
    for url in (path(conv),):
        resp = await lee.get(url)
        assert resp.status == 403 and await error(resp) == "forbidden"
    for action, body in (("messages", {"text": "안녕하세요"}), ("notes", {"text": "메모"}), ("release", {}),
                         ("close", {}), ("transfer", {"to": "lee"})):
        assert (await lee.post(path(conv, action), body)).status == 403, action
    assert (await lee.post(path(conv, "claim"))).status == 409  # it was in the queue: the race is lost
    assert conv not in json.dumps(await (await lee.get("/api/console/queue")).json())
    assert (await park.get(path(conv))).status == 200  # supervisors see everything
    assert (await kim.get(path(conv))).status == 200
    assert (await lee.get(path("00000000-0000-0000-0000-000000000000"))).status == 404

    # Held once, still readable after release; never held, not readable.
    assert (await kim.post(path(conv, "release"))).status == 200
    assert (await kim.get(path(conv))).status == 200
    assert (await lee.get(path(conv))).status == 403
    async with sessionmaker()() as s:
        denied = await s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.actor == "user:lee", AuditEntry.action == "conversation.view.denied"))
    assert denied == 2
