"""Sign-in hardening (security review, findings 5 and 8), in the real gateway app on SQLite and PostgreSQL:
one answer for unknown, wrong and waiting accounts (each costing one argon2 check), a growing wait
instead of a renewable lockout, limits per address and overall before any hashing; TOTP codes good
once, required for supervisors and admins and asked up front (a missing code is a wrong password);
password change in the console and reset from the CLI, each ending the user's other sessions, audited."""
from __future__ import annotations

import asyncio
import io
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select, update

from assistant.core.clock import utcnow
from assistant.store.db import close_engines, sessionmaker
from assistant.store.migrate import upgrade
from assistant.web.limits import Limit
from casebook.console import auth
from casebook.models import AuditEntry, User
from casebook.staff import accounts
from tests.casebook.console_helpers import error
from tests.console_client import PASSWORD

pytestmark = pytest.mark.usefixtures("cheap_hashes")  # test accounts: argon2 at its lowest cost

WRONG = "틀린-비밀번호-123"


@pytest.fixture
def hashes(monkeypatch) -> list[str]:
    """Every argon2 verification, by the hash checked: the dummy's or an account's."""
    seen: list[str] = []
    verify = accounts._verify

    def spy(stored: str, password: str) -> bool:
        seen.append("dummy" if stored == accounts._DUMMY_HASH else "account")
        return verify(stored, password)

    monkeypatch.setattr(accounts, "_verify", spy)
    return seen


async def answer(resp) -> tuple[int, dict]:
    return resp.status, await resp.json()


async def failed_logins(login: str) -> tuple[int, timedelta | None]:
    async with sessionmaker()() as s:
        count, until = (await s.execute(select(User.failed_logins, User.locked_until)
                                        .where(User.login == login))).one()
    return count, (until - utcnow() if until else None)


# --- finding 5: throttling and one answer ------------------------------------------------------------

async def test_unknown_wrong_and_waiting_answer_alike_and_cost_the_same(gateway, hashes):
    _, staff = gateway
    b = await staff()
    for _ in range(accounts.FREE_FAILURES + 1):  # the last one makes the account wait
        await b.login("lee", WRONG)
    hashes.clear()
    waiting = await answer(await b.login("lee"))  # the right password, while lee has to wait
    wrong = await answer(await b.login("kim", WRONG))
    unknown = await answer(await b.login("nobody"))
    assert waiting == wrong == unknown
    assert waiting[0] == 401 and waiting[1]["error"] == "invalid_credentials"
    assert hashes == ["dummy", "account", "dummy"]  # one argon2 check each: no timing difference
    async with sessionmaker()() as s:  # the audit log (supervisors only) still tells them apart
        reasons = (await s.scalars(select(AuditEntry.detail).where(AuditEntry.action == "login_failed")
                                   .order_by(AuditEntry.id.desc()).limit(3))).all()
    assert [r["reason"] for r in reversed(reasons)] == ["waiting", "invalid", "unknown"]


async def test_failures_earn_a_growing_wait_not_a_lockout(gateway):
    _, staff = gateway
    b = await staff()
    waits = []
    for _ in range(accounts.FREE_FAILURES + 3):
        assert (await b.login("lee", WRONG)).status == 401
        waits.append((await failed_logins("lee"))[1])
        async with sessionmaker()() as s, s.begin():  # the wait is over: the next guess is checked
            await s.execute(update(User).where(User.login == "lee", User.locked_until.is_not(None))
                            .values(locked_until=utcnow()))
    assert waits[:accounts.FREE_FAILURES] == [None] * accounts.FREE_FAILURES  # a few typos cost nothing
    grown = [w.total_seconds() for w in waits[accounts.FREE_FAILURES:]]
    assert [round(s) for s in grown] == [15, 30, 60]
    async with sessionmaker()() as s, s.begin():  # someone failing on purpose for hours
        await s.execute(update(User).where(User.login == "lee").values(failed_logins=500, locked_until=None))
    assert (await b.login("lee", WRONG)).status == 401
    count, wait = await failed_logins("lee")
    assert count == 501 and timedelta(minutes=4) < wait <= timedelta(minutes=5)  # capped, not 15 minutes
    async with sessionmaker()() as s, s.begin():
        await s.execute(update(User).where(User.login == "lee").values(locked_until=utcnow()))
    assert (await b.login("lee")).status == 200  # the right password after the wait: in, and forgiven
    assert await failed_logins("lee") == (0, None)


@pytest.fixture
def behind_proxy(env):
    """The test client (127.0.0.1) is the trusted proxy, so each request can come from its own address."""
    env(DASI_TRUSTED_PROXIES="127.0.0.1")


def sign_in_from(b, address: str, login: str, password: str = PASSWORD):
    return b.http.post(f"{b.base}/api/console/login", json={"login": login, "password": password},
                       headers={"X-Forwarded-For": address})


async def test_sign_in_is_limited_per_address_before_hashing(behind_proxy, gateway, hashes):
    _, staff = gateway
    b = await staff()
    for i in range(auth.LOGIN_PER_ADDRESS.rate.amount):
        assert (await sign_in_from(b, "203.0.113.5", f"nobody-{i}", WRONG)).status == 401
    before = len(hashes)
    refused = await sign_in_from(b, "203.0.113.5", "kim")  # another account, the right password
    assert refused.status == 429 and await error(refused) == "too_many_attempts"
    assert "초 뒤" in (await refused.json())["message"]
    assert len(hashes) == before  # refused before any argon2 work
    assert await failed_logins("kim") == (0, None)  # and kim is not made to wait for it
    assert (await sign_in_from(b, "198.51.100.9", "kim")).status == 200  # someone elsewhere is not refused


async def test_sign_in_is_limited_overall(behind_proxy, gateway, monkeypatch):
    _, staff = gateway
    b = await staff()
    monkeypatch.setattr(auth, "LOGIN_ALL", Limit("login-all-test", "3/minute"))
    for i in range(3):  # many addresses, each under its own limit
        assert (await sign_in_from(b, f"203.0.113.{i}", "nobody", WRONG)).status == 401
    refused = await sign_in_from(b, "198.51.100.9", "kim")
    assert refused.status == 429 and await error(refused) == "too_many_attempts"


async def test_parallel_guesses_are_checked_only_until_the_first_wait(gateway):
    _, staff = gateway
    b = await staff()
    results = await asyncio.gather(*[b.login("kim", f"guess-{i}-wrong") for i in range(8)])
    assert {r.status for r in results} == {401}  # one answer for all
    count, wait = await failed_logins("kim")
    assert count == accounts.FREE_FAILURES + 1 and wait is not None  # the rest waited, unchecked
    assert (await b.login("kim")).status == 401


# --- finding 8: TOTP and passwords ----------------------------------------------------------------

async def secret_of(login: str) -> str:
    async with sessionmaker()() as s:
        return await s.scalar(select(User.totp_secret).where(User.login == login))


async def test_a_totp_code_is_good_once(gateway):
    _, staff = gateway
    code = pyotp.TOTP(await secret_of("park")).now()
    assert (await (await staff()).login("park", totp=code)).status == 200
    replay = await (await staff()).login("park", totp=code)  # seen over a shoulder, or in a log
    assert replay.status == 401 and await error(replay) == "invalid_credentials"


async def test_a_missing_code_is_answered_like_a_wrong_password(gateway):
    _, staff = gateway
    b = await staff()
    missing = await answer(await b.login("park", totp=None))  # the right password, no code
    wrong = await answer(await b.login("park", WRONG))
    assert missing == wrong and missing[0] == 401  # nothing says the password was right
    page = await b.get("/console")
    assert 'name="totp"' in await page.text() and "totp-row\" hidden" not in await page.text()


async def test_supervisors_and_admins_must_have_totp(gateway):
    _, staff = gateway
    for role in accounts.TOTP_ROLES:
        with pytest.raises(accounts.AccountError):
            async with sessionmaker()() as s, s.begin():
                await accounts.create_user(s, f"no-totp-{role}", "이름", role, PASSWORD)
    async with sessionmaker()() as s, s.begin():  # an account made before TOTP was required
        await s.execute(update(User).where(User.login == "park").values(totp_secret=None))
    b = await staff()
    assert await error(await b.login("park", WRONG)) == "invalid_credentials"
    told = await b.login("park")
    assert told.status == 403 and await error(told) == "totp_setup_required"
    assert "관리자" in (await told.json())["message"]
    async with sessionmaker()() as s, s.begin():
        assert (await accounts.reset_totp(s, "park")).totp_secret
    assert (await b.login("park")).status == 200

    jung = await staff("jung")  # an admin creating a supervisor gets the link to hand over
    created = await jung.post("/api/console/users", {"login": "han", "name": "한", "role": "supervisor",
                                                     "password": PASSWORD})
    assert created.status == 201 and (await created.json())["totp_uri"].startswith("otpauth://totp/")


async def test_a_user_changes_their_password_and_their_other_sessions_end(gateway):
    _, staff = gateway
    here, elsewhere = await staff("kim"), await staff("kim")
    wrong = await here.post("/api/console/me/password", {"old_password": WRONG, "new_password": "새-비밀번호-2027"})
    assert wrong.status == 403 and await error(wrong) == "wrong_password"
    short = await here.post("/api/console/me/password", {"old_password": PASSWORD, "new_password": "short"})
    assert short.status == 400
    assert (await here.post("/api/console/me/password", {"old_password": PASSWORD, "new_password": "새-비밀번호-2027"},
                            csrf="")).status == 403
    ok = await here.post("/api/console/me/password", {"old_password": PASSWORD, "new_password": "새-비밀번호-2027"})
    assert ok.status == 200
    assert (await here.get("/api/console/me")).status == 200  # this browser stays signed in
    assert (await elsewhere.get("/api/console/me")).status == 401  # the other one is signed out
    assert (await (await staff()).login("kim")).status == 401
    assert (await (await staff()).login("kim", "새-비밀번호-2027")).status == 200
    async with sessionmaker()() as s:
        actions = (await s.scalars(select(AuditEntry.action).where(AuditEntry.actor == "user:kim",
                                                                   AuditEntry.action.like("password.%")))).all()
    assert actions == ["password.change_failed", "password.change"]


def test_cli_resets_a_password_and_sets_up_totp(env, monkeypatch, capsys):
    from assistant.cli.main import main

    upgrade()
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["users", "add", "--login", "boss", "--name", "관리자", "--role", "admin"]) == 1  # no --totp
    assert "TOTP" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["users", "add", "--login", "kim", "--name", "김", "--role", "counsellor"]) == 0

    async def signed_in_session() -> str:
        async with sessionmaker()() as s, s.begin():
            user = await s.scalar(select(User).where(User.login == "kim"))
            token, _ = await accounts.start_session(s, user)
        await close_engines()
        return token
    token = asyncio.run(signed_in_session())

    monkeypatch.setattr("sys.stdin", io.StringIO("다시-정한-비밀번호-1\n"))
    assert main(["users", "password", "kim"]) == 0
    assert main(["users", "password", "nobody"]) == 1
    assert main(["users", "totp", "kim"]) == 1  # counsellors have none
    capsys.readouterr()

    async def after() -> tuple:
        async with sessionmaker()() as s, s.begin():
            ended = await accounts.signed_in(s, token) is None
            user = await accounts.authenticate(s, "kim", "다시-정한-비밀번호-1", None)
            actions = (await s.scalars(select(AuditEntry.action).where(AuditEntry.actor == "cli"))).all()
        await close_engines()
        return ended, user.login, actions
    assert asyncio.run(after()) == (True, "kim", ["users.create_user", "users.reset_password"])
