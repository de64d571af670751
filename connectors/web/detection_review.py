"""Detection review for staff (counsellor and supervisor roles, via the console's `require_user`):
the queue of flagged posts (youth first, then score), each post's evidence with the spans that fired,
approve / reject, report drafts to approve, and the monitoring-table statistics.

GET  /console/detection                            the page (no data until the API says who you are)
GET  /api/detection/queue · /api/detection/posts/{id} · /api/detection/stats · /api/detection/reports
POST /api/detection/posts/{id}/decision {"decision": "approve"|"reject", "category"?}
POST /api/detection/reports/{id}/approve

The database calls are synchronous SQLAlchemy (shared with the CLI) and run in the default executor.
Every decision is written to the audit log with the reviewer; post text never goes into a log."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Callable

from aiohttp import web

from casebook import audit
from connectors.appkeys import SETTINGS
from connectors.errors import ApiError
from connectors.web.console_auth import client_ip, require_user

STATIC = Path(__file__).resolve().parent / "static"
REVIEW_ROLES = ("counsellor", "supervisor")


def _ok(body: dict, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False, default=str))


async def _run(fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def _id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise ApiError(404, "not_found", "없는 게시물이에요.") from None


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "detection.html", headers={"Cache-Control": "no-store"})


async def get_queue(request: web.Request) -> web.Response:
    await require_user(request, REVIEW_ROLES)
    settings = request.app[SETTINGS]

    def work() -> dict:
        from detection import review, store
        with store.session(settings) as s:
            return {"posts": [review.summary(p) for p in review.queue(s, int(request.query.get("limit", 100)))]}
    return _ok(await _run(work))


async def get_post(request: web.Request) -> web.Response:
    user = await require_user(request, REVIEW_ROLES)
    settings, post_id = request.app[SETTINGS], _id(request)

    def work() -> dict | None:
        from detection import review, store
        from detection.models import DetectedPost
        with store.session(settings) as s, s.begin():
            post = s.get(DetectedPost, post_id)
            if post is None:
                return None
            audit.record(s, user.actor, "detection.view", "detected_post", str(post_id), client_ip(request))
            return review.detail(post)
    data = await _run(work)
    if data is None:
        raise ApiError(404, "not_found", "없는 게시물이에요.")
    return _ok(data)


async def post_decision(request: web.Request) -> web.Response:
    user = await require_user(request, REVIEW_ROLES)
    settings, post_id = request.app[SETTINGS], _id(request)
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    decision, category = body.get("decision"), body.get("category")

    def work() -> dict:
        from detection import review, store
        with store.session(settings) as s, s.begin():
            post = review.decide(s, post_id, str(decision), user.actor, category,
                                 feedback_path=settings.detect_feedback_file)
            audit.record(s, user.actor, f"detection.{decision}", "detected_post", str(post_id), client_ip(request),
                         category=post.category)
            return review.summary(post)
    try:
        return _ok(await _run(work))
    except ValueError as exc:  # ReviewError: already decided, bad decision or category
        raise ApiError(409, "not_allowed", _korean(str(exc))) from None


def _korean(message: str) -> str:
    if "already" in message:
        return "이미 다른 사람이 처리한 게시물이에요. 목록을 새로 고쳐 주세요."
    if "category" in message:
        return "유형(출장/조건만남, 업소형, 구인)을 골라 주세요."
    if "slang" in message:
        return "명시적 지표(가격, 성행위 표현, 연령 단서, 연락처)가 없어 승인할 수 없어요. 보강한 뒤 다시 시도하세요."
    if "no such" in message or "does not exist" in message:
        return "없는 항목이에요."
    return "처리할 수 없는 요청이에요."


async def get_stats(request: web.Request) -> web.Response:
    await require_user(request, REVIEW_ROLES)
    settings = request.app[SETTINGS]

    def work() -> dict:
        from detection import store
        from detection.stats import TABLE_LABELS, stats
        with store.session(settings) as s:
            return {**stats(s), "labels": dict(TABLE_LABELS)}
    return _ok(await _run(work))


async def get_reports(request: web.Request) -> web.Response:
    await require_user(request, REVIEW_ROLES)
    settings = request.app[SETTINGS]

    def work() -> dict:
        from sqlalchemy import select

        from detection import store
        from detection.models import DetectionReport
        with store.session(settings) as s:
            rows = s.scalars(select(DetectionReport).order_by(DetectionReport.id.desc()).limit(200)).all()
            return {"reports": [{"id": r.id, "batch": r.batch, "category": r.category, "youth": r.youth,
                                 "posts": r.post_count, "status": r.status, "approved_by": r.approved_by,
                                 "documents": r.documents} for r in rows]}
    return _ok(await _run(work))


async def approve_report(request: web.Request) -> web.Response:
    user = await require_user(request, REVIEW_ROLES)
    settings, report_id = request.app[SETTINGS], _id(request)

    def work() -> dict:
        from detection import reports, store
        with store.session(settings) as s, s.begin():
            r = reports.approve(s, report_id, user.actor)
            audit.record(s, user.actor, "detection.report_submitted", "detection_report", str(report_id),
                         client_ip(request))
            return {"id": r.id, "status": r.status, "approved_by": r.approved_by}
    try:
        return _ok(await _run(work))
    except ValueError as exc:
        raise ApiError(409, "not_allowed", _korean(str(exc))) from None


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/console/detection", page)
    r.add_get("/api/detection/queue", get_queue)
    r.add_get("/api/detection/posts/{id}", get_post)
    r.add_post("/api/detection/posts/{id}/decision", post_decision)
    r.add_get("/api/detection/stats", get_stats)
    r.add_get("/api/detection/reports", get_reports)
    r.add_post("/api/detection/reports/{id}/approve", approve_report)
