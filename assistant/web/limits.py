"""Limits on what anyone may do without signing in: request rates (the maintained `limits` library, over
the storage DASI_RATE_LIMIT_STORAGE names: memory:// for one gateway, redis://host:6379 shared by several,
DASI_REDIS_URL's Redis when that is set; Redis through the `redis` client's asyncio API) and open
connections (counted in this process, where the connections live). The web chat uses
them (connectors/web/throttle.py, which also writes down its numbers); the back office may too."""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import secrets
import time
from collections import Counter

from aiohttp import web
from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from assistant.core.settings import Settings
from assistant.web.appkeys import SETTINGS

log = logging.getLogger("dasi.limits")


class Limit:
    """A named rate, e.g. Limit("webchat-ip", "60/minute"): the name keeps each limit's counters apart."""

    def __init__(self, name: str, rate: str) -> None:
        self.name, self.rate = name, parse(rate)

    def __repr__(self) -> str:
        return f"Limit({self.name!r}, {self.rate})"


class RateLimiter:
    """Moving-window counters. A request counts against all its limits or, when one refuses, none."""

    def __init__(self, storage_uri: str, secret: str) -> None:
        uri = storage_uri if storage_uri.startswith("async+") else f"async+{storage_uri}"
        # Redis through redis-py (the client the live hub and the turns use too), not coredis.
        options = {"implementation": "redispy"} if uri.startswith(("async+redis", "async+rediss")) else {}
        self._limiter = MovingWindowRateLimiter(storage_from_string(uri, wrap_exceptions=True, **options))
        # The storage (perhaps a shared Redis) holds keyed hashes, never a session id or an address.
        self._key = (secret or secrets.token_hex(32)).encode("utf-8")

    def _id(self, value: str) -> str:
        return hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    async def hit(self, *checks: tuple[Limit, str]) -> int:
        """Count one request as (limit, key) pairs. Returns 0 if every limit allows it, else the seconds
        until the first refusing one lets a request through again (and nothing is counted)."""
        keyed = [(limit.rate, limit.name, self._id(key)) for limit, key in checks]
        try:
            for rate, name, key in keyed:
                if not await self._limiter.test(rate, name, key):
                    stats = await self._limiter.get_window_stats(rate, name, key)
                    return max(1, math.ceil(stats.reset_time - time.time()))
            for rate, name, key in keyed:
                await self._limiter.hit(rate, name, key)
        except StorageError as exc:  # a crisis service stays open when its limiter's storage is down
            log.error("rate limit storage unavailable (%s): request allowed", type(exc.storage_error).__name__)
        return 0


class Slots:
    """Open connections, in total and per key (an address): a bounded number, released on close."""

    def __init__(self, total: int, per_key: int) -> None:
        self.total, self.per_key = total, per_key
        self._open: Counter[str] = Counter()

    def __len__(self) -> int:
        return sum(self._open.values())

    def acquire(self, key: str) -> bool:
        if len(self) >= self.total or self._open[key] >= self.per_key:
            return False
        self._open[key] += 1
        return True

    def release(self, key: str) -> None:
        self._open[key] -= 1
        if self._open[key] <= 0:
            del self._open[key]


LIMITER = web.AppKey("rate_limiter", RateLimiter)


def setup(app: web.Application) -> RateLimiter:
    """The app's one limiter (made once; every part that limits shares it). Needs app[SETTINGS]."""
    if LIMITER not in app:
        settings: Settings = app[SETTINGS]
        app[LIMITER] = RateLimiter(settings.rate_limit_store, settings.secret_key)
    return app[LIMITER]


def client_address(request: web.Request) -> str:
    """Whom a per-address limit counts: the peer (the person's address behind a trusted proxy, see
    assistant/web/proxies.py). IPv6 counts per /64: one subscriber is given a whole /64."""
    remote = request.remote or ""
    try:
        ip = ipaddress.ip_address(remote)
    except ValueError:
        return remote
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)
