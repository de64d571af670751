"""What every source yields, the rate limiter they share, and the hashes that make a post unique."""
from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp


class SourceError(RuntimeError):
    pass


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

    def __init__(self, name: str, config: dict[str, Any], settings: Any) -> None:
        self.name, self.config, self.settings = name, config, settings
        self.limiter = RateLimiter(float(config.get("per_minute", self.default_per_minute)))
        self.http: aiohttp.ClientSession | None = None

    def platform(self) -> str:
        return str(self.config.get("platform") or self.kind)

    async def get(self, url: str, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
        """A rate-limited GET; returns status, headers and body."""
        assert self.http is not None, "use `async with source:`"
        await self.limiter.wait()
        async with self.http.get(url, **kwargs) as resp:
            return resp.status, dict(resp.headers), await resp.read()

    async def __aenter__(self) -> Source:
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30),
                                          headers={"User-Agent": self.settings.detect_user_agent})
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.http is not None:
            await self.http.close()
            self.http = None

    def batches(self, cursor: dict[str, Any]) -> AsyncIterator[tuple[list[RawPost], dict[str, Any]]]:
        raise NotImplementedError


def remember(seen: list[str], new: list[str], keep: int = 2000) -> list[str]:
    """A bounded list of recently seen ids for sources with no 'since' (feeds, boards)."""
    return (seen + [n for n in new if n not in seen])[-keep:]
