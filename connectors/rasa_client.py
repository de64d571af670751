"""Talks to the Rasa server's REST channel. Any failure is one exception the router can handle."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

log = logging.getLogger("dasi.rasa")


# Rasa's RedisLockStore keeps a conversation's lock under "<prefix>:lock:<sender>"; the supervisor writes
# this prefix into endpoints.yml.
RASA_LOCK_PREFIX = "dasi"


class RasaUnavailable(RuntimeError):
    def __init__(self, reason: str, *, timed_out: bool = False, empty: bool = False) -> None:
        super().__init__(reason)
        self.timed_out, self.empty = timed_out, empty


def _reply(item: dict) -> dict | None:
    if not item.get("text") and not item.get("buttons"):
        return None  # images/custom payloads from Rasa are not used by this bot
    out: dict[str, Any] = {"text": item.get("text") or ""}
    buttons = [{"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
               for b in item.get("buttons") or [] if b.get("title")]
    if buttons:
        out["buttons"] = buttons
    return out


def token_params(token: str) -> dict[str, str]:
    """Rasa's API takes its token as `?token=` (`rasa run --auth-token`, started so by `dasi up`)."""
    return {"token": token} if token else {}


async def ask_rasa(http: aiohttp.ClientSession, rasa_url: str, sender: str, text: str,
                   metadata: dict, timeout: float, token: str = "") -> list[dict]:
    try:
        async with asyncio.timeout(timeout):
            async with http.post(f"{rasa_url}/webhooks/rest/webhook", params=token_params(token),
                                 json={"sender": sender, "message": text, "metadata": metadata}) as resp:
                if resp.status != 200:
                    raise RasaUnavailable(f"rasa answered HTTP {resp.status}")
                data = await resp.json(content_type=None)
    except TimeoutError as exc:
        raise RasaUnavailable("TimeoutError", timed_out=True) from exc
    except (aiohttp.ClientError, ValueError) as exc:
        raise RasaUnavailable(type(exc).__name__) from exc
    if not isinstance(data, list):
        raise RasaUnavailable("unexpected answer shape")
    replies = [r for r in (_reply(i) for i in data if isinstance(i, dict)) if r]
    if not replies:
        # Rasa answers [] when an action failed (e.g. the action server is down): treat as a failure.
        raise RasaUnavailable("empty answer", empty=True)
    return replies


class RasaPool:
    """Several Rasa servers sharing one tracker store and lock store (DASI_RASA_URLS): each message goes
    to the next server in turn; a server that refuses the connection, drops it or answers an error is
    skipped for `rest` seconds and the message goes to the next one. A slow server is not left: a timeout
    is the router's to judge (slow is not down).

    A server that dies while it holds a conversation's ticket in the shared lock store leaves it there
    until it expires, and Rasa's wait for it can outlive the next server's own ticket and never end
    (rasa/core/lock_store.py). Before the message goes to the next server, `release_lock(sender)` drops
    that lock: safe, because the gateways send one message of a conversation at a time (claims.Turns)."""

    def __init__(self, urls: tuple[str, ...] | list[str], rest: float = 5.0,
                 release_lock: Callable[[str], Awaitable[Any]] | None = None) -> None:
        self.urls = list(urls) or ["http://127.0.0.1:5005"]
        self.rest, self.release_lock = rest, release_lock
        self._next = 0
        self._down_until: dict[str, float] = {}

    def order(self) -> list[str]:
        """This message's servers: the next in turn first, those resting after a failure last."""
        start, self._next = self._next, (self._next + 1) % len(self.urls)
        turn = self.urls[start:] + self.urls[:start]
        now = time.monotonic()
        return [u for u in turn if self._down_until.get(u, 0) <= now] + \
            [u for u in turn if self._down_until.get(u, 0) > now]

    async def ask(self, http: aiohttp.ClientSession, sender: str, text: str, metadata: dict, timeout: float,
                  token: str = "") -> list[dict]:
        deadline = time.monotonic() + timeout
        last: RasaUnavailable | None = None
        for url in self.order():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                return await ask_rasa(http, url, sender, text, metadata, left, token=token)
            except RasaUnavailable as exc:
                if exc.timed_out or exc.empty:
                    raise  # slow, or the bot (its action server) failed: another Rasa would not do better
                self._down_until[url] = time.monotonic() + self.rest
                log.warning("rasa server %d of %d unavailable (%s); trying the next", self.urls.index(url) + 1,
                            len(self.urls), exc)
                last = exc
                if self.release_lock is not None:
                    with contextlib.suppress(Exception):  # Redis gone too: the lock's own expiry remains
                        await self.release_lock(sender)
        raise last or RasaUnavailable("no time left")


def rasa_lock_releaser(redis: Any) -> Callable[[str], Awaitable[Any]] | None:
    """Drops one conversation's ticket lock in Rasa's Redis lock store (the supervisor's key prefix)."""
    if redis is None:
        return None

    async def release(sender: str) -> None:
        await redis.delete(f"{RASA_LOCK_PREFIX}:lock:{sender}")
    return release
