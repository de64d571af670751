"""Which platform channels are on (those whose secrets are set), their routes, and the outbox that
sends through them. A channel that is off has no route: its webhook answers 404."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from aiohttp import web

from assistant.web.appkeys import DELIVERY, HTTP, LIVE, SETTINGS
from connectors import kakao, meta, x
from connectors.appkeys import OUTBOX, ROUTER
from connectors.inbound import Outcome
from connectors.outbound import Outbox
from connectors.router import Accepted
from detection.outreach.sending import SENDERS

log = logging.getLogger("dasi.channels")
RECOVERY = web.AppKey("recovery", asyncio.Task)
RECOVERY_GRACE = timedelta(seconds=10)  # a live gateway claims what it stored well within this


def enabled(app: web.Application) -> list[str]:
    s = app[SETTINGS]
    return [name for name, on in (("kakao", s.kakao_enabled), ("meta", s.meta_enabled), ("x", s.x_enabled)) if on]


def setup(app: web.Application) -> None:
    """Routes, at app creation (aiohttp freezes the router at startup)."""
    on = enabled(app)
    for name, module in (("kakao", kakao), ("meta", meta), ("x", x)):
        if name in on:
            module.setup(app)


async def start(app: web.Application) -> None:
    """The outbox and each channel's sender, once the HTTP client and the router exist."""
    settings, router = app[SETTINGS], app[ROUTER]
    outbox = Outbox(settings, router.sessions, app[LIVE])
    on = enabled(app)
    if "kakao" in on:
        outbox.register("kakao", kakao.KakaoSender(settings, router.sessions, app[HTTP]))
    if "meta" in on:
        sender = meta.MetaSender(settings, app[HTTP])
        outbox.register("instagram", sender)
        outbox.register("messenger", sender)
    if "x" in on:
        outbox.register("x", x.XSender(settings, app[HTTP]))
    # Detection's outreach replies go out only where a platform's API allows it (X); elsewhere by hand.
    app[SENDERS] = {"x": x.XOutreachSender(settings, app[HTTP], outbox)} if "x" in on else {}
    app[OUTBOX] = outbox
    app[DELIVERY] = outbox  # what the console may use of it
    log.info("channels on: %s (off: %s)", ", ".join(["web", *on]),
             ", ".join(n for n in ("kakao", "meta", "x") if n not in on) or "none")
    try:
        await outbox.resume()
    except Exception as exc:  # a database problem at startup must not keep the gateway down
        log.error("could not resume stored deliveries: %s", type(exc).__name__)

    async def send_late(_accepted: Accepted, outcome: Outcome) -> None:
        outbox.deliver_later(outcome.reply_ids)

    router.on_late = send_late  # earlier messages answered for another (or a dead) gateway
    app[RECOVERY] = asyncio.get_running_loop().create_task(recover(app))


async def recover(app: web.Application) -> None:
    """At startup, then every DASI_RECOVERY_INTERVAL seconds: answer what was stored but not answered
    (this gateway stopped, or another one died while answering and its claim ran out)."""
    try:
        await app[ROUTER].claims.forget_own()  # what this gateway was answering when it stopped
    except Exception as exc:  # the database may still be starting: its leases run out anyway
        log.error("could not take back this gateway's answer claims: %s", type(exc).__name__)
    grace = timedelta(0)  # at startup: everything; later, not what a live gateway has only just stored
    while True:
        try:
            await answer_unanswered(app, grace)
        except Exception as exc:  # one bad pass must not end the looking
            log.error("answering unanswered messages failed: %s", type(exc).__name__)
        grace = RECOVERY_GRACE
        await asyncio.sleep(app[SETTINGS].recovery_interval)


async def answer_unanswered(app: web.Application, grace: timedelta = timedelta(0)) -> int:
    """Answer what was stored but not answered, and send it like any late answer; each conversation's
    messages in order, conversations side by side."""
    router = app[ROUTER]
    try:
        pending = await router.unanswered(grace)
    except Exception as exc:  # the database may be down: the messages stay for the next look or the console
        log.error("could not read unanswered messages: %s", type(exc).__name__)
        return 0
    by_conversation: dict[int, list[Accepted]] = {}
    for accepted in pending:
        by_conversation.setdefault(accepted.conv_id, []).append(accepted)

    async def one(messages: list[Accepted]) -> int:
        answered = 0
        for accepted in messages:
            outcome = await router.answer(accepted)
            if not outcome.elsewhere:
                answered += 1
                for mid in outcome.reply_ids:
                    await app[OUTBOX].deliver(mid)
        return answered

    done = sum(await asyncio.gather(*(one(m) for m in by_conversation.values())))
    if done:
        log.warning("answered %d message(s) left unanswered by a stopped gateway", done)
    return done


async def stop(app: web.Application) -> None:
    if RECOVERY in app:
        app[RECOVERY].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await app[RECOVERY]
    if OUTBOX in app:
        await app[OUTBOX].close()
