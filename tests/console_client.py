"""What the console tests share: staff accounts, a signed-in browser (cookie jar + CSRF token) and
the real gateway app on a fresh database with the bot down. tests/conftest.py loads this module as a
plugin, so the fixtures `gateway` and `cheap_hashes` are available everywhere; a module that creates
accounts marks itself with `pytestmark = pytest.mark.usefixtures("cheap_hashes")`."""
from __future__ import annotations

import aiohttp
import pyotp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from assistant.core.settings import get_settings
from assistant.store.db import sessionmaker
from assistant.store.migrate import upgrade
from casebook.models import User
from casebook.staff import accounts
from connectors.gateway import create_app
from tests.conftest import free_port

PASSWORD = "상담-비밀번호-2026"
USERS = {"kim": "counsellor", "lee": "counsellor", "park": "supervisor", "choi": "editor", "jung": "admin"}


async def totp_code(login: str) -> str | None:
    """The current TOTP code of an account that has one (supervisors and admins), else None. Tests sign
    in as one person several times within a 30-second step, so the step last used is forgotten first
    (a code is accepted once: a person would wait for the next one)."""
    async with sessionmaker()() as s, s.begin():
        user = await s.scalar(select(User).where(User.login == login))
        if user is None or not user.totp_secret:
            return None
        user.totp_last_step = None
        return pyotp.TOTP(user.totp_secret).now()


class Staff:
    """One browser: its own cookie jar, and the CSRF token its sign-in returned."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def login(self, login: str, password: str = PASSWORD, **extra) -> aiohttp.ClientResponse:
        """With the account's current TOTP code unless `totp=` is given (None: none sent)."""
        if "totp" not in extra:
            extra["totp"] = await totp_code(login)
        if extra["totp"] is None:
            del extra["totp"]
        resp = await self.http.post(f"{self.base}/api/console/login",
                                    json={"login": login, "password": password, **extra})
        if resp.status == 200:
            self.csrf = (await resp.json())["csrf_token"]
        return resp

    async def get(self, path: str) -> aiohttp.ClientResponse:
        return await self.http.get(self.base + path, allow_redirects=False)

    async def post(self, path: str, body: dict | None = None, csrf: str | None = None, **kw) -> aiohttp.ClientResponse:
        """JSON body, or `data=` for a form/multipart upload; csrf="" sends no token at all."""
        headers = {"X-CSRF-Token": self.csrf if csrf is None else csrf} if csrf != "" else {}
        if "data" in kw:
            return await self.http.post(self.base + path, headers=headers, **kw)
        return await self.http.post(self.base + path, json={} if body is None else body, headers=headers)

    async def json(self, method: str, path: str, body=None, status: int = 200) -> dict:
        resp = await (self.get(path) if method == "GET" else self.post(path, body))
        payload = await resp.json()
        assert resp.status == status, (resp.status, payload)
        return payload


@pytest.fixture
def cheap_hashes(monkeypatch):
    """Argon2 at its lowest cost: the tests are about the rules, not the hash's strength."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
async def gateway(env, database_url):
    """(server, staff): `await staff("kim")` is a browser signed in as kim; USERS exist with PASSWORD."""
    # Nothing listens on these ports: the bot is down, so every web chat message queues for a person.
    env(DASI_DATABASE_URL=database_url, DASI_RASA_URL=f"http://127.0.0.1:{free_port()}",
        DASI_ACTIONS_URL=f"http://127.0.0.1:{free_port()}", DASI_RASA_TIMEOUT="1")
    upgrade()
    async with sessionmaker()() as s, s.begin():
        for login, role in USERS.items():
            await accounts.create_user(s, login, f"{login}-이름", role, PASSWORD, totp=role in accounts.TOTP_ROLES)
    server = TestServer(create_app(get_settings()))
    await server.start_server()
    browsers: list[Staff] = []

    async def staff(login: str | None = None) -> Staff:
        b = Staff(str(server.make_url("")).rstrip("/"))
        browsers.append(b)
        if login:
            assert (await b.login(login)).status == 200
        return b

    yield server, staff
    for b in browsers:
        await b.http.close()
    await server.close()
