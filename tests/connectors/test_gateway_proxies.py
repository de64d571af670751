"""Behind a TLS proxy (security review, finding 6): X-Forwarded-* is believed only from DASI_TRUSTED_PROXIES,
so the console's cookie is Secure, HSTS is sent and the audit log has the person's address, not the proxy's;
from anyone else the headers change nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from assistant.store.db import sessionmaker
from casebook.models import AuditEntry
from tests.console_client import PASSWORD

pytestmark = pytest.mark.usefixtures("cheap_hashes")

FORWARDED = {"X-Forwarded-For": "198.51.100.7, 203.0.113.5", "X-Forwarded-Proto": "https"}


@pytest.fixture
def proxy_here(env):
    """The test client connects from 127.0.0.1: make that the trusted proxy (before the gateway starts)."""
    env(DASI_TRUSTED_PROXIES="127.0.0.1")


async def login_ips() -> list[str]:
    async with sessionmaker()() as s:
        return list((await s.scalars(select(AuditEntry.ip).where(AuditEntry.action == "login")
                                     .order_by(AuditEntry.id))).all())


async def test_a_trusted_proxy_gives_the_address_and_the_scheme(proxy_here, gateway):
    _, staff = gateway
    b = await staff()
    resp = await b.http.post(f"{b.base}/api/console/login", json={"login": "kim", "password": PASSWORD},
                             headers=FORWARDED)
    assert resp.status == 200
    assert resp.cookies["dasi_console"]["secure"]  # the person came over HTTPS
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
    # The right-most address the proxy did not add is the person's; the one they wrote before it is not.
    assert await login_ips() == ["203.0.113.5"]
    plain = await b.http.get(f"{b.base}/api/console/me")  # straight from the proxy, no X-Forwarded-*
    assert "Strict-Transport-Security" not in plain.headers


@pytest.fixture(params=["", "10.0.0.0/8"])
def proxy_elsewhere(env, request):
    """No proxy configured, or one that is not the caller: either way the caller's headers are not believed."""
    env(DASI_TRUSTED_PROXIES=request.param)


async def test_from_anyone_else_the_headers_are_ignored(proxy_elsewhere, gateway):
    _, staff = gateway
    b = await staff()
    resp = await b.http.post(f"{b.base}/api/console/login", json={"login": "kim", "password": PASSWORD},
                             headers=FORWARDED)
    assert resp.status == 200
    assert not resp.cookies["dasi_console"]["secure"]
    assert "Strict-Transport-Security" not in resp.headers
    assert await login_ips() == ["127.0.0.1"]  # a forged X-Forwarded-For does not hide the caller


def test_a_mistyped_proxy_stops_the_start():
    from assistant.web import proxies

    with pytest.raises(ValueError):
        proxies.middlewares(["10.0.0.1", "not-an-address"])
