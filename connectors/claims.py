"""Who answers a stored inbound message, when several gateways share one database.

A gateway answers a message only after claiming it: one UPDATE that sets `answering_by` (this gateway's
stable name) and `answering_until` (a lease) where the message is neither answered nor claimed by a live
lease. Both engines make that one statement atomic (PostgreSQL re-checks the row after waiting for its
lock; SQLite writes one at a time), so two gateways never both answer a message. The replies are stored in
the transaction that marks the message answered, and only while the claim is still this gateway's. A
gateway that dies leaves a lease that runs out: another gateway (its recovery loop) or the same one after
a restart (it knows its own name) answers the message then.

`Turns` keeps one conversation's messages one after another: a lock in this process and, with a shared
Redis (DASI_REDIS_URL), a Redis lock across gateways. The claims stay the guarantee if Redis fails.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from assistant.core.clock import utcnow
from casebook.models import Conversation, Message

log = logging.getLogger("dasi.claims")


@dataclass(frozen=True)
class Pending:
    """An inbound message not answered yet, and whether another gateway holds a live claim on it."""
    message: Message
    conversation: Conversation
    claimed_until: datetime | None  # another gateway's live lease, else None


def _unanswered() -> Any:
    reply = aliased(Message)
    return and_(Message.direction == "in", Message.answered_at.is_(None),
                ~select(reply.id).where(reply.reply_to_id == Message.id).exists())


class Claims:
    def __init__(self, sessions: async_sessionmaker, instance: str, lease: float) -> None:
        self.sessions, self.instance, self.lease = sessions, instance, timedelta(seconds=lease)

    async def claim(self, message_id: int) -> bool:
        """Take the message for this gateway; False if it is answered or another gateway's lease is live."""
        now = utcnow()
        async with self.sessions() as s, s.begin():
            result = await s.execute(
                update(Message).where(Message.id == message_id, _unanswered(),
                                      or_(Message.answering_until.is_(None), Message.answering_until < now))
                .values(answering_by=self.instance, answering_until=now + self.lease)
                .execution_options(synchronize_session=False))
            return bool(result.rowcount)

    async def renew(self, message_id: int) -> bool:
        """While answering: push the lease on (a live gateway keeps its claim however slow the bot is)."""
        async with self.sessions() as s, s.begin():
            result = await s.execute(
                update(Message).where(Message.id == message_id, Message.answering_by == self.instance,
                                      Message.answered_at.is_(None))
                .values(answering_until=utcnow() + self.lease).execution_options(synchronize_session=False))
            return bool(result.rowcount)

    @contextlib.asynccontextmanager
    async def kept(self, message_id: int) -> AsyncIterator[None]:
        """Renew the claim every third of the lease while the body runs: a gateway that dies stops renewing,
        and its messages are free again within one lease."""
        async def renewing() -> None:
            while True:
                await asyncio.sleep(self.lease.total_seconds() / 3)
                try:
                    await self.renew(message_id)
                except Exception as exc:  # the database hiccuped: the next round tries again
                    log.warning("could not renew the claim on message %s (%s)", message_id, type(exc).__name__)

        task = asyncio.create_task(renewing())
        try:
            yield
        finally:
            task.cancel()

    async def finish(self, s: AsyncSession, message_id: int) -> bool:
        """In the transaction that stores the replies: mark the message answered, if the claim is still
        ours (a lease that ran out may have passed to another gateway, whose answer then stands)."""
        result = await s.execute(
            update(Message).where(Message.id == message_id, Message.answering_by == self.instance,
                                  Message.answered_at.is_(None))
            .values(answered_at=utcnow(), answering_until=None).execution_options(synchronize_session=False))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def release(self, message_id: int) -> None:
        """Give the claim up at once (the answer failed before anything was stored)."""
        async with self.sessions() as s, s.begin():
            await s.execute(update(Message).where(Message.id == message_id, Message.answering_by == self.instance,
                                                  Message.answered_at.is_(None))
                            .values(answering_until=None).execution_options(synchronize_session=False))

    async def answered(self, message_id: int) -> tuple[bool, datetime | None]:
        """(answered, the live lease's end if another gateway is answering it)."""
        reply = aliased(Message)
        async with self.sessions() as s:
            row = (await s.execute(select(Message.answered_at, Message.answering_until,
                                          select(reply.id).where(reply.reply_to_id == Message.id).exists())
                                   .where(Message.id == message_id))).one_or_none()
        if row is None:
            return True, None
        answered_at, until, has_reply = row
        live = until if until is not None and until > utcnow() else None
        return answered_at is not None or bool(has_reply), live

    async def earlier(self, conversation_id: int, before_id: int, since: datetime) -> list[Pending]:
        """The conversation's unanswered messages before this one, oldest first."""
        return await self._pending(Message.conversation_id == conversation_id, Message.id < before_id,
                                   Message.created_at >= since)

    async def orphans(self, since: datetime, before: datetime, states: set[str]) -> list[Pending]:
        """Unanswered messages no live gateway is answering (their gateway died, or never claimed them),
        stored between `since` and `before`, in conversations the bot holds; oldest first."""
        now = utcnow()
        return [p for p in await self._pending(Message.created_at >= since, Message.created_at < before,
                                               Conversation.state.in_(states),
                                               or_(Message.answering_until.is_(None),
                                                   Message.answering_until < now))]

    async def _pending(self, *where: Any) -> list[Pending]:
        now = utcnow()
        async with self.sessions() as s:
            rows = (await s.execute(select(Message, Conversation)
                                    .join(Conversation, Message.conversation_id == Conversation.id)
                                    .where(_unanswered(), *where).order_by(Message.id))).all()
        return [Pending(m, c, m.answering_until if m.answering_until is not None and m.answering_until > now
                        else None) for m, c in rows]

    async def forget_own(self) -> int:
        """At startup: leases this gateway held before it stopped are dead (nothing is in flight yet)."""
        async with self.sessions() as s, s.begin():
            result = await s.execute(update(Message).where(Message.answering_by == self.instance,
                                                           Message.answered_at.is_(None),
                                                           Message.answering_until.is_not(None))
                                     .values(answering_until=None).execution_options(synchronize_session=False))
            return int(result.rowcount or 0)


class Turns:
    """One conversation's messages one after another: in this process, and across gateways over Redis
    (a lock that lives `ttl` seconds unless its holder renews it, so a dead gateway's turn ends soon)."""

    def __init__(self, redis: Any = None, wait: float = 120.0, ttl: float = 10.0) -> None:
        self.redis, self.wait, self.ttl = redis, wait, ttl
        self._local: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    @contextlib.asynccontextmanager
    async def turn(self, conversation_id: int) -> AsyncIterator[None]:
        local = self._local.setdefault(conversation_id, asyncio.Lock())
        async with local:
            lock = await self._acquire(conversation_id)
            renewing = asyncio.create_task(self._renew(lock)) if lock is not None else None
            try:
                yield
            finally:
                if renewing is not None:
                    renewing.cancel()
                if lock is not None:
                    with contextlib.suppress(Exception):  # expired or Redis gone: nothing to give back
                        await lock.release()

    async def _renew(self, lock: Any) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                await lock.reacquire()
            except Exception as exc:  # lost or Redis gone: the claims still keep every answer single
                log.warning("could not keep a conversation turn (%s)", type(exc).__name__)
                return

    async def _acquire(self, conversation_id: int) -> Any:
        if self.redis is None:
            return None
        lock = self.redis.lock(f"dasi:turn:{conversation_id}", timeout=self.ttl, sleep=0.05,
                               blocking_timeout=self.wait)
        try:
            if await lock.acquire():
                return lock
            log.warning("conversation turn not free after %.0f s: answering on the claims alone", self.wait)
        except Exception as exc:  # Redis down: the database claims still keep every answer single
            log.error("redis unavailable for conversation turns (%s)", type(exc).__name__)
        return None
