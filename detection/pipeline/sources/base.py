"""What every source yields, the rate limiter they share, and the hashes that make a post unique."""
from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from yarl import URL

from assistant.web.safe_fetch import FetchError, Hop, SafeFetcher


class SourceError(RuntimeError):
    pass


class SourceRefused(SourceError):
    """The safe fetcher refused a URL (an internal address, another host, a scheme, too big)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"fetch refused ({reason})")
        self.reason = reason


def safe_fetcher(settings: Any, **kwargs: Any) -> SafeFetcher:
    """Every fetch in detection goes through this (assistant/web/safe_fetch.py: no internal addresses,
    redirects checked hop by hop, bodies capped)."""
    return SafeFetcher(user_agent=settings.detect_user_agent, **kwargs)


@dataclass
class RawPost:
    platform: str
    text: str
    post_id: str | None = None
    url: str | None = None
    account: str | None = None
    image_urls: list[str] = field(default_factory=list)
    posted_at: datetime | None = None
    capture: bytes = b""        # the fetched JSON/HTML the post came from: kept as evidence
    capture_type: str = "json"  # json | html | xml

    @property
    def content_hash(self) -> str:
        """Same platform, account, text (spacing aside) and images = the same post, whatever its id."""
        parts = [self.platform, self.account or "", " ".join(self.text.split()), *sorted(self.image_urls)]
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()

    @property
    def post_key(self) -> str:
        if self.post_id:
            return f"id:{self.post_id}"[:200]
        if self.url:
            return "url:" + hashlib.sha256(self.url.encode("utf-8")).hexdigest()
        return "hash:" + self.content_hash


class RateLimiter:
    """At most one request per `interval` seconds for one source (platforms' terms, and politeness)."""

    def __init__(self, per_minute: float) -> None:
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        now = time.monotonic()
        if self._next > now:
            await asyncio.sleep(self._next - now)
        self._next = max(now, self._next) + self.interval


class Source:
    """A named, configured source. `batches(cursor)` yields (posts, cursor after them); the caller
    stores both in one transaction, so a restart resumes after the last stored batch."""

    kind = ""
    default_per_minute = 30.0
    media_hosts: tuple[str, ...] = ()  # where this kind's images live besides its own host

    def __init__(self, name: str, config: dict[str, Any], settings: Any) -> None:
        self.name, self.config, self.settings = name, config, settings
        self.limiter = RateLimiter(float(config.get("per_minute", self.default_per_minute)))
        self.fetcher: SafeFetcher | None = None

    def platform(self) -> str:
        return str(self.config.get("platform") or self.kind)

    def own_urls(self) -> list[str]:
        return [str(u) for u in [*(self.config.get("urls") or []), self.config.get("url")] if u]

    def hosts(self) -> list[str]:
        """The only hosts this source fetches from, links, images and redirects included: its own, its
        kind's media hosts and the config's `hosts` list (`*.example.org` for subdomains)."""
        own = [URL(u).raw_host or "" for u in self.own_urls()]
        return [h for h in own if h] + list(self.media_hosts) + [str(h) for h in self.config.get("hosts") or []]

    async def before_request(self, url: URL) -> None:
        """Runs before every request, each redirect hop included."""
        await self.limiter.wait()

    async def get(self, url: str, *, params: dict[str, str] | None = None, headers: dict[str, str] | None = None,
                  max_bytes: int | None = None, hop: Hop | None = None) -> tuple[int, dict[str, str], bytes]:
        """A rate-limited, SSRF-safe GET on this source's hosts; returns status, headers and body.
        A refused URL raises SourceRefused."""
        assert self.fetcher is not None, "use `async with source:`"
        try:
            page = await self.fetcher.get(url, params=params, headers=headers, hosts=self.hosts(),
                                          max_bytes=max_bytes, before_each=hop or self.before_request)
        except FetchError as exc:
            raise SourceRefused(exc.reason) from None
        return page.status, page.headers, page.body

    async def __aenter__(self) -> Source:
        self.fetcher = await safe_fetcher(self.settings).__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.fetcher is not None:
            await self.fetcher.__aexit__(*exc)
            self.fetcher = None

    def batches(self, cursor: dict[str, Any]) -> AsyncIterator[tuple[list[RawPost], dict[str, Any]]]:
        raise NotImplementedError


def remember(seen: list[str], new: list[str], keep: int = 2000) -> list[str]:
    """A bounded list of recently seen ids for sources with no 'since' (feeds, boards)."""
    return (seen + [n for n in new if n not in seen])[-keep:]
