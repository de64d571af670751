"""The SSRF-safe fetcher (assistant/web/safe_fetch.py) against local fake servers. Without the test-only
allow-list, nothing internal is reachable; with 127.0.0.1 exempted, the fake server is, and what it
redirects or resolves to is checked again on every hop."""
from __future__ import annotations

import socket
from ipaddress import ip_address

import pytest
from aiohttp import web

from assistant.web import safe_fetch
from assistant.web.safe_fetch import FetchRefused, ResponseTooLarge, SafeFetcher, is_public
from tests.conftest import serve_routes

LOCAL = ("127.0.0.1/32",)


@pytest.fixture
async def local():
    """A fake outside server on 127.0.0.1 and an 'internal' one on 127.0.0.2 that must stay unasked."""
    hits: dict[str, list[str]] = {"outside": [], "internal": []}
    state: dict = {}

    async def internal(request: web.Request) -> web.Response:
        hits["internal"].append(request.path)
        return web.Response(text="secret")

    async def outside(request: web.Request) -> web.StreamResponse:
        hits["outside"].append(request.path)
        name = request.match_info["name"]
        if name == "ok":
            return web.Response(text="hello", headers={"X-Auth-Seen": request.headers.get("Authorization", "")})
        if name == "to-internal":
            raise web.HTTPFound(f"{state['internal']}/admin")
        if name == "to-metadata":
            raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")
        if name == "to-v6":
            raise web.HTTPTemporaryRedirect("http://[::1]/")
        if name == "to-mapped":
            raise web.HTTPFound("http://[::ffff:127.0.0.1]/")
        if name == "to-file":
            raise web.HTTPFound("file:///etc/passwd")
        if name == "loop":
            raise web.HTTPFound("/loop")
        if name == "to-ok":
            raise web.HTTPFound("/ok")
        if name == "big":
            return web.Response(body=b"x" * 3000)
        if name == "big-chunked":
            resp = web.StreamResponse()
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            for _ in range(50):
                await resp.write(b"y" * 1000)
            return resp
        raise web.HTTPNotFound()

    inner, state["internal"] = await serve_routes([web.get("/{tail:.*}", internal)], "127.0.0.2")
    outer, base = await serve_routes([web.get("/{name}", outside)])
    yield base, hits
    await outer.cleanup()
    await inner.cleanup()


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}/ok", "http://10.0.0.1/", "http://169.254.169.254/latest/",
                                 "http://[::1]:{port}/ok", "http://0.0.0.0:{port}/ok", "http://localhost:{port}/ok",
                                 "http://[::ffff:127.0.0.1]:{port}/ok", "http://192.168.1.1/", "http://100.64.0.1/",
                                 "http://[fe80::1]/", "http://224.0.0.1/", "http://[2002:7f00:1::]/"])
async def test_internal_addresses_are_refused_without_the_test_allow_list(local, url):
    base, hits = local
    port = base.rsplit(":", 1)[1]
    async with SafeFetcher(timeout=5) as f:
        with pytest.raises(FetchRefused) as exc:
            await f.get(url.format(port=port))
    assert exc.value.reason == "private_address"
    assert hits["outside"] == [] and hits["internal"] == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/", "gopher://127.0.0.1:70/",
                                 "data:text/plain,hi", "//no-scheme"])
async def test_other_schemes_are_refused(url):
    async with SafeFetcher() as f:
        with pytest.raises(FetchRefused) as exc:
            await f.get(url)
    assert exc.value.reason == "scheme"


async def test_the_allow_list_reaches_the_test_server_only(local):
    base, hits = local
    async with SafeFetcher(allow_for_tests=LOCAL) as f:
        page = await f.get(f"{base}/ok")
        assert (page.status, page.body) == (200, b"hello")
        with pytest.raises(FetchRefused):  # 127.0.0.2 is not on the list
            await f.get(base.replace("127.0.0.1", "127.0.0.2") + "/x")
    assert hits["internal"] == []


@pytest.mark.parametrize("name", ["to-internal", "to-metadata", "to-v6", "to-mapped"])
async def test_every_redirect_hop_is_checked(local, name):
    base, hits = local
    async with SafeFetcher(allow_for_tests=LOCAL, timeout=5) as f:
        with pytest.raises(FetchRefused) as exc:
            await f.get(f"{base}/{name}")
    assert exc.value.reason == "private_address"
    assert hits["outside"] == [f"/{name}"] and hits["internal"] == []


async def test_redirects_are_bounded_and_schemes_checked_on_each(local):
    base, hits = local
    async with SafeFetcher(allow_for_tests=LOCAL, max_redirects=3) as f:
        with pytest.raises(FetchRefused, match="too_many_redirects"):
            await f.get(f"{base}/loop")
        assert len(hits["outside"]) == 4
        with pytest.raises(FetchRefused, match="scheme"):
            await f.get(f"{base}/to-file")
        assert (await f.get(f"{base}/to-ok")).body == b"hello"


async def test_hosts_keep_every_hop_on_the_source(local):
    base, hits = local
    async with SafeFetcher(allow_for_tests=("127.0.0.0/8",)) as f:  # even where addresses are allowed
        assert (await f.get(f"{base}/ok", hosts={"127.0.0.1"})).status == 200
        with pytest.raises(FetchRefused, match="other_host"):
            await f.get(f"{base}/to-internal", hosts={"127.0.0.1"})
        with pytest.raises(FetchRefused, match="other_host"):
            await f.get(f"{base}/ok", hosts={"example.org", "*.example.org"})
    assert hits["internal"] == []
    assert safe_fetch.host_matches("img.cdn.example.org", ["*.example.org"])
    assert not safe_fetch.host_matches("evilexample.org", ["*.example.org"])


async def test_caller_headers_do_not_follow_a_redirect_to_another_origin(local):
    base, hits = local
    other_runner, other = await serve_routes([web.get("/ok", lambda r: web.Response(
        text=r.headers.get("Authorization", "none")))])

    async def bounce(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"{other}/ok")

    runner, bouncer = await serve_routes([web.get("/b", bounce)])
    try:
        async with SafeFetcher(allow_for_tests=LOCAL) as f:
            same = await f.get(f"{base}/ok", headers={"Authorization": "Bearer t"})
            moved = await f.get(f"{bouncer}/b", headers={"Authorization": "Bearer t"})
    finally:
        await runner.cleanup()
        await other_runner.cleanup()
    assert same.headers["X-Auth-Seen"] == "Bearer t"
    assert moved.body == b"none"


@pytest.mark.parametrize("name", ["big", "big-chunked"])
async def test_the_body_is_capped(local, name):
    base, _ = local
    async with SafeFetcher(allow_for_tests=LOCAL, max_bytes=2048) as f:
        with pytest.raises(ResponseTooLarge):
            await f.get(f"{base}/{name}")
        assert len((await f.get(f"{base}/{name}", max_bytes=100_000)).body) in (3000, 50_000)


async def test_names_are_checked_where_they_resolve_so_rebinding_cannot_slip_in(local, monkeypatch):
    """A name that first resolves to an allowed address and then to an internal one: the connection
    uses what the resolver returned and checked, each time it resolves."""
    base, hits = local
    port = int(base.rsplit(":", 1)[1])
    answers = iter(["127.0.0.1", "127.0.0.2"])

    async def fake_resolve(self, host, port=0, family=socket.AF_INET):
        address = next(answers)
        return [{"hostname": host, "host": address, "port": port, "family": socket.AF_INET, "proto": 0, "flags": 0}]

    monkeypatch.setattr(safe_fetch.DefaultResolver, "resolve", fake_resolve)
    async with SafeFetcher(allow_for_tests=LOCAL) as f:
        assert (await f.get(f"http://rebind.test:{port}/ok")).body == b"hello"
    async with SafeFetcher(allow_for_tests=LOCAL) as f:  # a new session: no DNS cache
        with pytest.raises(FetchRefused, match="private_address"):
            await f.get(f"http://rebind.test:{port}/ok")
    assert hits["internal"] == []


def test_address_classes():
    for a in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.0.1", "169.254.169.254", "0.0.0.0", "100.64.0.1",
              "224.0.0.251", "255.255.255.255", "240.0.0.1", "::1", "::", "fe80::1", "fc00::1", "ff02::1",
              "::ffff:10.0.0.1", "2002:a00:1::", "64:ff9b::a00:1", "2001:db8::1"]:
        assert not is_public(ip_address(a)), a
    for a in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]:
        assert is_public(ip_address(a)), a
