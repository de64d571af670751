"""GET a URL that an outsider chose (links and images on scraped pages, later URLs citizens submit)
without letting it reach this machine or its network (SSRF).

- only http and https, on every hop;
- every address a host resolves to must be public: loopback, private, link-local, multicast, reserved,
  unspecified and shared (CGNAT) addresses are refused, IPv4 and IPv6 alike, including IPv4 addresses
  inside IPv6 (mapped, 6to4, Teredo, NAT64);
- the check runs inside the connector's resolver, so the connection goes to exactly the addresses that
  were checked (no DNS rebinding between check and connect); IP literals, which aiohttp never
  resolves, are checked before the request;
- redirects are followed here, a bounded number, each hop checked again (scheme, host scope, address);
  headers the caller added (e.g. Authorization) are not sent to another origin;
- `hosts` keeps every hop on the given hosts (`*.example.org` matches subdomains);
- the body is streamed and reading stops past `max_bytes`; no cookies are kept, no proxy from the
  environment is used.
"""
from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address, ip_network

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

IPAddress = IPv4Address | IPv6Address
REDIRECTS = frozenset({301, 302, 303, 307, 308})
NAT64 = IPv6Network("64:ff9b::/96")
Hop = Callable[[URL], Awaitable[None]]


class FetchError(Exception):
    """Not fetched. `reason` is a short code, safe to log (no URL, no content)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FetchRefused(FetchError):
    """The URL, a redirect or an address it resolves to is not allowed."""


class ResponseTooLarge(FetchError):
    pass


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    status: int
    headers: dict[str, str]
    body: bytes


def _embedded_ipv4(ip: IPv6Address) -> list[IPv4Address]:
    """IPv4 addresses an IPv6 address carries (and may be routed to): 6to4, Teredo, NAT64."""
    out = [ip.sixtofour] if ip.sixtofour is not None else []
    if ip.teredo:
        out += list(ip.teredo)
    if ip in NAT64:
        out.append(IPv4Address(int(ip) & 0xFFFFFFFF))
    return out


def is_public(ip: IPAddress) -> bool:
    if isinstance(ip, IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d on a dual-stack socket
            return is_public(ip.ipv4_mapped)
        if ip.scope_id or not all(is_public(v4) for v4 in _embedded_ipv4(ip)):
            return False
        if ip in NAT64:  # the IPv4 address decides
            return True
    return ip.is_global and not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
                                 or ip.is_reserved or ip.is_unspecified)


class _Policy:
    def __init__(self, allow_for_tests: Iterable[str]) -> None:
        self.exempt = [ip_network(n) for n in allow_for_tests]

    def check(self, address: str) -> None:
        try:
            ip = ip_address(address)
        except ValueError:
            raise FetchRefused("bad_address") from None
        if not is_public(ip) and not any(ip in n for n in self.exempt):
            raise FetchRefused("private_address")


class VettedResolver(AbstractResolver):
    """Resolves with aiohttp's resolver and refuses the host if any address is not public: the
    connector connects only to what this returns (and caches it), so what was checked is what is used."""

    def __init__(self, policy: _Policy) -> None:
        self._inner = DefaultResolver()
        self._policy = policy

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not results:
            raise FetchRefused("no_address")
        for r in results:
            self._policy.check(r["host"])
        return results

    async def close(self) -> None:
        await self._inner.close()


def _host(host: str) -> str:
    return host.rstrip(".").lower()


def host_matches(host: str, patterns: Collection[str]) -> bool:
    host = _host(host)
    for p in patterns:
        p = _host(p)
        if host == p or (p.startswith("*.") and host.endswith(p[1:])):
            return True
    return False


def _idna(pattern: str) -> str:
    """A host pattern in the form yarl gives URL hosts (IDNA-encoded)."""
    wild = pattern.startswith("*.")
    try:
        raw = URL.build(scheme="http", host=pattern[2:] if wild else pattern).raw_host or ""
    except ValueError:  # not a host name: matches nothing
        return ""
    return ("*." if wild else "") + raw if raw else ""


class SafeFetcher:
    """`async with SafeFetcher(user_agent=...) as f: page = await f.get(url, hosts={"example.org"})`.

    `allow_for_tests` exempts networks (e.g. "127.0.0.1/32") from the public-address rule so tests can
    reach a local fake server. It is a constructor argument on purpose: never wire it to a setting."""

    def __init__(self, *, user_agent: str = "", timeout: float = 30.0, max_bytes: int = 5 * 1024 * 1024,
                 max_redirects: int = 5, allow_for_tests: Iterable[str] = ()) -> None:
        self.user_agent, self.timeout = user_agent, timeout
        self.max_bytes, self.max_redirects = max_bytes, max_redirects
        self._policy = _Policy(allow_for_tests)
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SafeFetcher:
        connector = aiohttp.TCPConnector(resolver=VettedResolver(self._policy))
        self._http = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout), trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(), headers={"User-Agent": self.user_agent} if self.user_agent else None)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def check_url(self, url: URL, hosts: Collection[str] | None) -> None:
        """What can be checked before connecting: scheme, host scope, an IP literal's address."""
        if url.scheme not in ("http", "https") or not url.raw_host:
            raise FetchRefused("scheme")
        if hosts is not None and not host_matches(url.raw_host, [_idna(h) for h in hosts]):
            raise FetchRefused("other_host")
        try:
            ip_address(url.raw_host)
        except ValueError:
            return  # a name: the resolver checks what it resolves to
        self._policy.check(url.raw_host)

    async def get(self, url: str, *, params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
                  hosts: Collection[str] | None = None, max_bytes: int | None = None,
                  before_each: Hop | None = None) -> Fetched:
        """GET, following redirects. `before_each(url)` runs before every request (rate limits, robots.txt)
        and may raise to stop. Raises FetchRefused / ResponseTooLarge, or aiohttp's errors."""
        assert self._http is not None, "use `async with SafeFetcher(...)`"
        try:
            target = URL(url)
        except (ValueError, TypeError):
            raise FetchRefused("bad_url") from None
        if params:
            target = target.update_query(params)
        origin: URL | None = None
        extra = dict(headers or {})
        for _ in range(self.max_redirects + 1):
            self.check_url(target, hosts)
            origin = origin or target.origin()
            if before_each is not None:
                await before_each(target)
            sent = extra if target.origin() == origin else {}  # no credentials to another origin
            async with self._http.get(target, headers=sent, allow_redirects=False) as resp:
                location = resp.headers.get("Location")
                if resp.status in REDIRECTS and location:
                    try:
                        target = target.join(URL(location))
                    except (ValueError, TypeError):
                        raise FetchRefused("bad_redirect") from None
                    continue
                body = await self._read(resp, max_bytes or self.max_bytes)
                return Fetched(str(target), resp.status, dict(resp.headers), body)
        raise FetchRefused("too_many_redirects")

    @staticmethod
    async def _read(resp: aiohttp.ClientResponse, limit: int) -> bytes:
        if resp.content_length is not None and resp.content_length > limit:
            resp.close()
            raise ResponseTooLarge("too_large")
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                resp.close()  # stop reading: the rest is never downloaded
                raise ResponseTooLarge("too_large")
            chunks.append(chunk)
        return b"".join(chunks)

