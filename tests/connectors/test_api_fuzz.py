"""Every JSON route of the gateway under hypothesis (security review, issue 17: the fuzzing pass). Signed in
as a supervisor and as an admin, any body on any POST route and any query on any GET route under /api/
is answered with a success or a JSON 4xx, never a 500, and a refused request changes nothing in the
database. The webhooks have tests/connectors/test_connector_fuzz.py; the detection review's routes, with
posts to decide on, tests/detection/test_detection_review_api.py."""
from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from assistant.core.settings import get_settings
from assistant.store.db import close_engines, make_sync_engine, sessionmaker
from assistant.store.migrate import upgrade
from assistant.web.limits import Limit
from casebook.staff import accounts
from connectors.gateway import create_app
from connectors.web import throttle
from tests.conftest import free_port
from tests.fakes.server import ServerThread, request
from tests.fuzzing import FUZZ, ascii_junk, hostile_bodies, json_values

pytestmark = pytest.mark.usefixtures("cheap_hashes")

PASSWORD = "퍼즈-비밀번호-2026"
SESSION = "fuzzsession0123456789abcdef"
# Would end the session the rest of the run signs in with.
SKIPPED = {"/api/console/logout"}
# A refusal here is recorded on purpose: a failed sign-in counts against the account.
REFUSAL_RECORDED = {"/api/console/login"}
# Refusals are audited on purpose (who tried what); every other table must stay as it was.
NOT_COMPARED = {"audit_log"}
# The names the routes read, so that bodies reach past "not an object" and "missing field".
FIELDS = ["text", "note", "id", "session", "route", "person", "person_id", "conversation_id", "opened_at", "kind",
          "minutes", "on", "partner", "step", "data", "to", "reason", "login", "name", "role", "password", "totp",
          "old_password", "new_password", "level", "categories", "state", "who", "youth", "contact", "support_level",
          "referred_by", "referred_to", "decision", "category", "after", "limit"]
QUERY = ["limit", "after", "session", "from", "to", "state", "q", "actor", "action", "risk", "format", "page"]


@dataclass
class Site:
    url: str
    database_url: str
    examples: dict[str, str]  # path parameter -> a value that names something that exists
    browsers: dict[str, tuple[str, str]] = field(default_factory=dict)  # login -> (cookie, csrf)

    def call(self, method: str, path: str, body: bytes | None, login: str,
             content_type: str = "application/json") -> tuple[int, bytes]:
        cookie, csrf = self.browsers[login]
        headers = {"Cookie": cookie, "X-CSRF-Token": csrf, "Origin": self.url}
        if body is not None:
            headers["Content-Type"] = content_type
        status, _, raw, _ = request(method, self.url + path, body, headers)
        return status, raw

    def _read(self) -> dict[str, list]:
        engine = make_sync_engine(self.database_url)
        try:
            with Session(engine) as s:
                tables = [t for t in inspect(engine).get_table_names() if t not in NOT_COMPARED]
                return {t: sorted(map(repr, s.execute(text(f"SELECT * FROM {t}")).all())) for t in tables}
        finally:
            engine.dispose()

    def state(self) -> dict[str, list]:
        """Every row once the gateway is idle: an accepted chat message's reply is marked delivered in the
        background, which must not pass for a change made by the next, refused, request."""
        now = self._read()
        for _ in range(100):
            time.sleep(0.02)
            now, before = self._read(), now
            if now == before:
                return now
        raise AssertionError("the database kept changing")


@pytest.fixture
def site(env, tmp_path, monkeypatch) -> Iterator[Site]:
    """The gateway (Rasa down) with a conversation, a person and a case, and a supervisor and an admin signed in."""
    # The fuzz is one flooding client.
    env(DASI_RASA_URL=f"http://127.0.0.1:{free_port()}", DASI_ACTIONS_URL=f"http://127.0.0.1:{free_port()}",
        DASI_RASA_TIMEOUT="0.5", DASI_WEBCHAT_RATE_PER_ADDRESS="100000/minute",
        DASI_WEBCHAT_NEW_SESSIONS_PER_ADDRESS="100000/minute")
    monkeypatch.setattr(throttle, "PER_SESSION", Limit("fuzz-session", "100000/minute"))
    settings = get_settings()
    upgrade()
    loop = ServerThread()

    async def prepare() -> dict[str, str]:
        secrets = {}
        async with sessionmaker()() as s, s.begin():
            for login, role in (("park", "supervisor"), ("jung", "admin")):
                user = await accounts.create_user(s, login, login, role, PASSWORD, totp=True)
                secrets[login] = user.totp_secret
        return secrets

    try:
        secrets = loop.run(prepare())
        url = loop.serve(create_app(settings))
        s = Site(url=url, database_url=settings.database_url, examples={})
        for login in ("park", "jung"):
            body = json.dumps({"login": login, "password": PASSWORD, "totp": pyotp.TOTP(secrets[login]).now()})
            status, headers, raw, _ = request("POST", url + "/api/console/login", body.encode(),
                                              {"Content-Type": "application/json"})
            assert status == 200, raw
            jar = SimpleCookie(headers["Set-Cookie"])
            s.browsers[login] = ("; ".join(f"{k}={m.value}" for k, m in jar.items()), json.loads(raw)["csrf_token"])
        opening = json.dumps({"session": SESSION, "text": "도와주세요"}).encode()
        status, raw = s.call("POST", "/api/webchat/messages", opening, "park")
        assert status == 200, raw
        queue = json.loads(s.call("GET", "/api/console/queue", None, "park")[1])
        conversation = queue["waiting"][0]["id"]
        status, raw = s.call("POST", "/api/console/cases", json.dumps(
            {"route": "visit", "person": {"name": "가명-하늘", "youth": False}}).encode(), "park")
        assert status == 201, raw
        case = json.loads(raw)["case"]
        s.examples = {"id": conversation, "number": case["number"], "login": "park"}
        yield s
    finally:
        loop.run(close_engines())
        loop.stop()


def routes(method: str) -> list[str]:
    app = create_app(get_settings())
    return sorted({r.resource.canonical for r in app.router.routes()
                   if r.method == method and r.resource is not None and r.resource.canonical.startswith("/api/")
                   and r.resource.canonical not in SKIPPED})


def path_values(name: str, examples: dict[str, str]) -> st.SearchStrategy[str]:
    known = examples.get(name, "1")
    return st.one_of(st.just(known), st.integers(-2**40, 2**70).map(str), ascii_junk, st.text(max_size=20))


def fill(route: str, draw, examples: dict[str, str]) -> str:
    """The route with each {name} filled in (quoted), mostly with something that exists."""
    resource = route
    while "{" in resource:
        start = resource.index("{")
        end = resource.index("}", start)
        name = resource[start + 1:end]
        value = draw(path_values(name, examples))
        resource = resource[:start] + urllib.parse.quote(value, safe="") + resource[end + 1:]
    return resource


shaped = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6).map(lambda d: json.dumps(d).encode())


@pytest.mark.parametrize("login", ["park", "jung"])
def test_no_json_route_gives_a_500_and_a_refusal_changes_nothing(site, login):
    posts, gets = routes("POST"), routes("GET")
    assert "/api/console/cases" in posts and "/api/webchat/messages" in posts and "/api/console/queue" in gets

    @FUZZ
    @given(data=st.data(), route=st.sampled_from(posts), body=st.one_of(shaped, shaped, hostile_bodies),
           content_type=st.sampled_from(["application/json"] * 5 + ["text/plain", ""]))
    def check_post(data, route, body, content_type):
        path = fill(route, data.draw, site.examples)
        before = site.state()
        status, raw = site.call("POST", path, body, login, content_type)
        assert status < 500, (path, body[:200], raw[:300])
        if status >= 400:
            assert json.loads(raw)["error"], raw[:300]
            if route not in REFUSAL_RECORDED:
                assert site.state() == before, (path, status, body[:200])

    @FUZZ
    @given(data=st.data(), route=st.sampled_from(gets),
           query=st.dictionaries(st.sampled_from(QUERY), st.one_of(ascii_junk, st.integers(-2**70, 2**70).map(str)),
                                 max_size=4))
    def check_get(data, route, query):
        path = fill(route, data.draw, site.examples) + "?" + urllib.parse.urlencode(query)
        status, raw = site.call("GET", path, None, login)
        assert status < 500, (path, raw[:300])

    check_post()
    check_get()
