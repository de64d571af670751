"""Which platform channels are on (those whose secrets are set), their routes, and the outbox that
sends through them. A channel that is off has no route: its webhook answers 404."""
from __future__ import annotations

import logging

from aiohttp import web

from assistant.web.appkeys import DELIVERY, HTTP, LIVE, SETTINGS
from connectors import kakao, meta, x
from connectors.appkeys import OUTBOX, ROUTER
from connectors.outbound import Outbox
from detection.outreach.sending import SENDERS

log = logging.getLogger("dasi.channels")


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
    outbox.spawn(answer_unanswered(app))


async def answer_unanswered(app: web.Application) -> int:
    """After a restart: answer what was stored but not answered, and send it like any late answer."""
    router, outbox = app[ROUTER], app[OUTBOX]
    try:
        pending = await router.unanswered()
    except Exception as exc:  # the database may still be starting: the messages stay for the console
        log.error("could not read unanswered messages: %s", type(exc).__name__)
        return 0
    for accepted in pending:
        outcome = await router.answer(accepted)
        for mid in outcome.reply_ids:
            await outbox.deliver(mid)
    if pending:
        log.warning("answered %d message(s) left unanswered when the gateway stopped", len(pending))
    return len(pending)


async def stop(app: web.Application) -> None:
    if OUTBOX in app:
        await app[OUTBOX].close()
