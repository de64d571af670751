"""The statistics page for supervisors:

GET /console/stats                         → static/stats.html (charts drawn by static/stats.js)
GET /api/console/stats?from=&to=           → {"period", "summary", "tables"} (casebook/stats/queries.py)
GET /api/console/stats.xlsx?from=&to=      → the workbook (one sheet per table)

Supervisors only (403 for everyone else); every view and download is in the audit log (the
period, never any content: the statistics are anonymous counts anyway).
"""
from __future__ import annotations

import json
from datetime import date, datetime

from aiohttp import web

from assistant.core.clock import KST
from assistant.web.errors import ApiError
from casebook.console.auth import AUDIT_ROLES, audited, db, require_user
from casebook.console.pages import STATIC
from casebook.stats import export as stats_export
from casebook.stats import queries as stats

MAX_DAYS = 366 * 5
# Tables other packages add (stats.Section), by name: detection's outreach adds its own at app creation.
SECTIONS = web.AppKey("stats_sections", dict)


def add_section(app: web.Application, name: str, section: stats.Section) -> None:
    if SECTIONS not in app:
        app[SECTIONS] = {}
    app[SECTIONS][name] = section


def period_of(request: web.Request) -> stats.Period:
    """?from=YYYY-MM-DD&to=YYYY-MM-DD (Korean dates, both inclusive); this year by default."""
    year = datetime.now(KST).year
    try:
        start = date.fromisoformat(request.query.get("from") or f"{year}-01-01")
        end = date.fromisoformat(request.query.get("to") or f"{start.year}-12-31")
        period = stats.Period(start, end)
    except ValueError:
        raise ApiError(400, "invalid_period", "기간이 올바르지 않아요. 시작일과 종료일을 YYYY-MM-DD 형식으로, "
                                              "시작일이 종료일보다 앞서게 입력해 주세요.") from None
    if (end - start).days > MAX_DAYS:
        raise ApiError(400, "invalid_period", "기간은 5년을 넘을 수 없어요.")
    return period


async def _compute(request: web.Request, action: str, **detail) -> stats.Stats:
    await require_user(request, AUDIT_ROLES)
    period = period_of(request)
    async with db(request)() as s, s.begin():
        result = await stats.compute(s, period, request.app.get(SECTIONS, {}).values())
        audited(request, s, action, "stats", period.label(), **detail)
    return result


async def get_stats(request: web.Request) -> web.Response:
    result = await _compute(request, "stats.view")
    return web.json_response(result.as_dict(), dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def get_xlsx(request: web.Request) -> web.Response:
    result = await _compute(request, "stats.export", format="xlsx")
    name = f"dasi-stats-{result.period.start.isoformat()}_{result.period.end.isoformat()}.xlsx"
    return web.Response(body=stats_export.to_xlsx(result), content_type=stats_export.XLSX_TYPE,
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "stats.html")  # security headers: assistant.web.headers


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/console/stats", page)
    r.add_get("/api/console/stats", get_stats)
    r.add_get("/api/console/stats.xlsx", get_xlsx)
