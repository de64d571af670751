"""Detection review for staff (counsellor and supervisor roles, via the console's `require_user`):
the queue of flagged posts (youth first, then score), each post's evidence with the spans that fired,
approve / reject, report drafts to approve, and the monitoring-table statistics.

GET  /console/detection                            the page (no data until the API says who you are)
GET  /api/detection/queue[?source=citizen] · /api/detection/posts/{id} · /api/detection/stats · /api/detection/reports
POST /api/detection/posts/{id}/decision {"decision": "approve"|"reject", "category"?}
POST /api/detection/reports/{id}/approve

The database calls are synchronous SQLAlchemy (shared with the CLI) and run in the default executor.
Every decision is written to the audit log with the reviewer; post text never goes into a log."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from assistant.web.appkeys import SETTINGS
from assistant.web.errors import ApiError
from assistant.web.responses import ok, path_int, query_int, read_json
from casebook.console.auth import client_ip, require_user
from casebook.staff import audit

STATIC = Path(__file__).resolve().parent / "static"
REVIEW_ROLES = ("counsellor", "supervisor")
MAX_QUEUE = 500  # posts in one queue page


async def _run(fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "detection.html", headers={"Cache-Control": "no-store"})


async def get_queue(request: web.Request) -> web.Response:
    await require_user(request, REVIEW_ROLES)
    settings = request.app[SETTINGS]
    limit = min(max(query_int(request, "limit", 100), 1), MAX_QUEUE)  # a negative LIMIT is every row in SQLite
    source = request.query.get("source") or None  # ?source=citizen: only what people reported

    def work() -> dict:
        from detection.review import service as review
        from detection.storage import queries as store
        with store.session(settings) as s:
            return {"posts": [review.summary(p) for p in review.queue(s, limit, source)]}
    return ok(await _run(work))


async def get_post(request: web.Request) -> web.Response:
    user = await require_user(request, REVIEW_ROLES)
    settings, post_id = request.app[SETTINGS], path_int(request, "id", "없는 게시물이에요.")

    def work() -> dict | None:
        from detection.review import service as review
        from detection.storage import queries as store
        from detection.storage.tables import DetectedPost
        with store.session(settings) as s, s.begin():
            post = s.get(DetectedPost, post_id)
            if post is None:
                return None
            audit.record(s, user.actor, "detection.view", "detected_post", str(post_id), client_ip(request))
            data = review.detail(post)
            if post.source == "citizen":  # what the reporters wrote (no reporter data is kept)
                from detection.citizen.service import review_context
                data["citizen_report"] = review_context(s, post_id)
            return data
    data = await _run(work)
    if data is None:
        raise ApiError(404, "not_found", "없는 게시물이에요.")
    return ok(data)


async def post_decision(request: web.Request) -> web.Response:
    user = await require_user(request, REVIEW_ROLES)
    settings, post_id = request.app[SETTINGS], path_int(request, "id", "없는 게시물이에요.")
    body = await read_json(request)
    decision, category = body.get("decision"), body.get("category")

    def work() -> dict:
        from detection.review import service as review
        from detection.storage import queries as store
        with store.session(settings) as s, s.begin():
            post = review.decide(s, post_id, str(decision), user.actor, category)
            audit.record(s, user.actor, f"detection.{decision}", "detected_post", str(post_id), client_ip(request),
                         category=post.category)
            return review.summary(post)
    return ok(await _run(work))  # a ReviewError is answered by the gateway's error middleware


async def get_stats(request: web.Request) -> web.Response:
    await require_user(request, REVIEW_ROLES)
    settings = request.app[SETTINGS]

    def work() -> dict:
        from detection.outreach.stats import stats as outreach_stats
        from detection.pipeline.stats import TABLE_LABELS, stats
        from detection.storage import queries as store
        with store.session(settings) as s:
            return {**stats(s), "labels": dict(TABLE_LABELS), "outreach": outreach_stats(s)}
    return ok(await _run(work))


async def get_reports(request: web.Request) -> web.Response:
    await require_user(request, REVIEW_ROLES)
    settings = request.app[SETTINGS]

    def work() -> dict:
        from sqlalchemy import select

        from detection.storage import queries as store
        from detection.storage.tables import DetectionReport
        with store.session(settings) as s:
            rows = s.scalars(select(DetectionReport).order_by(DetectionReport.id.desc()).limit(200)).all()
            return {"reports": [{"id": r.id, "batch": r.batch, "category": r.category, "youth": r.youth,
                                 "posts": r.post_count, "status": r.status, "approved_by": r.approved_by,
                                 "documents": r.documents} for r in rows]}
    return ok(await _run(work))


async def approve_report(request: web.Request) -> web.Response:
    user = await require_user(request, REVIEW_ROLES)
    settings, report_id = request.app[SETTINGS], path_int(request, "id", "없는 게시물이에요.")

    def work() -> dict:
        from detection.pipeline import reports
        from detection.storage import queries as store
        with store.session(settings) as s, s.begin():
            r = reports.approve(s, report_id, user.actor)
            audit.record(s, user.actor, "detection.report_submitted", "detection_report", str(report_id),
                         client_ip(request))
            return {"id": r.id, "status": r.status, "approved_by": r.approved_by}
    return ok(await _run(work))  # a ReportError is answered by the gateway's error middleware


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/console/detection", page)
    r.add_get("/api/detection/queue", get_queue)
    r.add_get("/api/detection/posts/{id}", get_post)
    r.add_post("/api/detection/posts/{id}/decision", post_decision)
    r.add_get("/api/detection/stats", get_stats)
    r.add_get("/api/detection/reports", get_reports)
    r.add_post("/api/detection/reports/{id}/approve", approve_report)
    r.add_static("/static/detection/", STATIC)
