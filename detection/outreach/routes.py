"""Watcher outreach pages for staff who review detection (counsellor, supervisor — the review queue's roles):

GET  /console/outreach                         the page
GET  /api/outreach/drafts?status=open|all      drafts with their post, target and the text to approve
POST /api/outreach/draft                       read new youth-flagged posts now (also after `dasi detect scan`)
POST /api/outreach/drafts/{id}/approve         a named approval: dry run records it; else sent (X) or left to post
POST /api/outreach/drafts/{id}/reject
POST /api/outreach/drafts/{id}/send            retry an approved draft (after a rate limit)
POST /api/outreach/drafts/{id}/posted          staff posted a manual draft by hand
POST /api/outreach/targets/{id}/minor          staff believe the account belongs to a minor: guidance only
GET  /api/outreach/stats

Thin: the work is in service.py; database calls run in the default executor."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from assistant.web import limits
from assistant.web.appkeys import SETTINGS
from assistant.web.responses import ok, path_int
from casebook.console import stats as console_stats
from casebook.console.auth import client_ip, require_user
from detection.outreach import service, stats, store
from detection.outreach.sending import SENDERS
from detection.outreach.tables import OPEN, DraftStatus
from detection.storage import queries

STATIC = Path(__file__).resolve().parent / "static"
OUTREACH_ROLES = ("counsellor", "supervisor")  # the same as detection.review.routes.REVIEW_ROLES (a test checks)
NOT_FOUND = "없는 초안이에요."


async def _db(request: web.Request, fn: Callable[[Session], Any]) -> Any:
    settings = request.app[SETTINGS]

    def work() -> Any:
        with queries.session(settings) as s, s.begin():
            return fn(s)
    return await asyncio.get_running_loop().run_in_executor(None, work)


def _senders(request: web.Request) -> dict:
    return request.app.get(SENDERS) or {}


def _draft_json(row: Any) -> dict[str, Any]:
    d, post, target = row
    return {"id": d.id, "kind": d.kind, "template": d.template, "platform": d.platform, "via": d.via,
            "status": d.status, "text": d.text, "reply_to": d.recipient if d.via == "reply" else None,
            "url": post.url, "post_id": post.id, "account": post.account, "preview": post.text[:120],
            "removal": post.removal, "decided_by": d.decided_by, "error": d.error,
            "target": {"id": target.id, "minor": target.minor} if target is not None else None}


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "outreach.html", headers={"Cache-Control": "no-store"})


async def get_drafts(request: web.Request) -> web.Response:
    await require_user(request, OUTREACH_ROLES)
    wanted = None if request.query.get("status") == "all" else (*OPEN, DraftStatus.approved)
    settings = request.app[SETTINGS]
    rows = await _db(request, lambda s: [_draft_json(r) for r in store.drafts(s, wanted)])
    return ok({"drafts": rows, "dry_run": settings.outreach_dry_run, "senders": sorted(_senders(request)),
               "escalate_after": settings.outreach_escalate_after})


async def post_draft(request: web.Request) -> web.Response:
    user = await require_user(request, OUTREACH_ROLES)
    settings = request.app[SETTINGS]
    run = await _db(request, lambda s: service.draft_pending(s, settings, user.actor, client_ip(request)))
    return ok(run.as_dict())


async def approve(request: web.Request) -> web.Response:
    user = await require_user(request, OUTREACH_ROLES)
    settings, draft_id = request.app[SETTINGS], path_int(request, "id", NOT_FOUND)
    senders = _senders(request)
    go = await _db(request, lambda s: service.approve(s, settings, draft_id, user.actor, senders, client_ip(request)))
    status = await service.send(settings, senders, request.app[limits.LIMITER], draft_id, user.actor,
                                client_ip(request)) if go else None
    return ok({"id": draft_id, "status": status or await _status(request, draft_id)})


async def send(request: web.Request) -> web.Response:
    user = await require_user(request, OUTREACH_ROLES)
    settings, draft_id = request.app[SETTINGS], path_int(request, "id", NOT_FOUND)
    status = await service.send(settings, _senders(request), request.app[limits.LIMITER], draft_id, user.actor,
                                client_ip(request))
    return ok({"id": draft_id, "status": status})


async def _status(request: web.Request, draft_id: int) -> str:
    return await _db(request, lambda s: service.status_of(s, draft_id))


async def reject(request: web.Request) -> web.Response:
    user = await require_user(request, OUTREACH_ROLES)
    draft_id = path_int(request, "id", NOT_FOUND)
    status = await _db(request, lambda s: service.reject(s, draft_id, user.actor, client_ip(request)).status)
    return ok({"id": draft_id, "status": status})


async def posted(request: web.Request) -> web.Response:
    user = await require_user(request, OUTREACH_ROLES)
    draft_id = path_int(request, "id", NOT_FOUND)
    status = await _db(request, lambda s: service.posted_by_hand(s, draft_id, user.actor, client_ip(request)).status)
    return ok({"id": draft_id, "status": status})


async def minor(request: web.Request) -> web.Response:
    user = await require_user(request, OUTREACH_ROLES)
    target_id = path_int(request, "id", "없는 대상이에요.")
    await _db(request, lambda s: service.mark_minor(s, target_id, user.actor, client_ip(request)))
    return ok({"id": target_id, "minor": True})


async def get_stats(request: web.Request) -> web.Response:
    await require_user(request, OUTREACH_ROLES)
    return ok(await _db(request, stats.stats))


def setup(app: web.Application) -> None:
    limits.setup(app)  # the app's one limiter (sends per platform and per target)
    console_stats.add_section(app, "outreach", stats.tables)  # /console/stats shows the outreach table
    r = app.router
    r.add_get("/console/outreach", page)
    r.add_get("/api/outreach/drafts", get_drafts)
    r.add_post("/api/outreach/draft", post_draft)
    r.add_post("/api/outreach/drafts/{id}/approve", approve)
    r.add_post("/api/outreach/drafts/{id}/reject", reject)
    r.add_post("/api/outreach/drafts/{id}/send", send)
    r.add_post("/api/outreach/drafts/{id}/posted", posted)
    r.add_post("/api/outreach/targets/{id}/minor", minor)
    r.add_get("/api/outreach/stats", get_stats)
    r.add_static("/static/outreach/", STATIC)
