"""The public citizen report pages (no account, no name asked) and their API:

GET  /report                 the form (phone-first, Korean, quick exit)
GET  /report/status          the receipt status page
POST /api/report             multipart/form-data: type, url, text, place, when, description, minor,
                             screenshots (up to 5) → {"receipt", "status"}
POST /api/report/status      {"code"} → {"status", "label", "note", ...}; any wrong code: the same 404

Nothing about the sender is stored: the rate limiter counts a keyed hash of the address in memory (or
the configured limiter storage), the report rows have no address, user agent or device column.
Uploads are read in a streaming way with their own caps (the gateway's 64 KB body limit is for JSON)."""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiohttp import BodyPartReader, web

from assistant.web import limits
from assistant.web.appkeys import SETTINGS
from assistant.web.limits import Limit, client_address
from assistant.web.responses import ok, read_json
from casebook.console.stats import add_section
from detection.citizen import images, service, stats, worker
from detection.citizen.images import UploadError
from detection.citizen.service import CitizenError, Submission
from detection.storage import queries as store

log = logging.getLogger("dasi.detection.citizen")
STATIC = Path(__file__).resolve().parent / "static"
SUBMITS = Limit("citizen-report-ip", "5/hour")     # 258 reports in nine months: a person sends one or two
SUBMITS_DAY = Limit("citizen-report-ip-day", "20/day")
LOOKUPS = Limit("citizen-status-ip", "20/hour")    # guessing a 59-bit code at 20 an hour is hopeless
PAGES = Limit("citizen-page-ip", "120/minute")
FIELD_BYTES = 8 * 1024       # one text field of the form
MAX_PARTS = 20
BODY_SLACK = 256 * 1024      # the form fields and multipart framing around the files


async def _limited(request: web.Request, *checks: Limit) -> None:
    address = client_address(request)
    wait = await request.app[limits.LIMITER].hit(*((c, address) for c in checks))
    if wait:  # answered 429 {"error": "rate_limited", "message": ...} by the gateway's middleware
        raise CitizenError("rate_limited", status=429)


async def page(request: web.Request) -> web.FileResponse:
    await _limited(request, PAGES)
    return web.FileResponse(STATIC / "report.html")


async def status_page(request: web.Request) -> web.FileResponse:
    await _limited(request, PAGES)
    return web.FileResponse(STATIC / "status.html")


async def _read_part(part: BodyPartReader, cap: int, code: str) -> bytes:
    """A part's bytes, refused as soon as it passes `cap` (the rest is never read into memory)."""
    chunks, size = [], 0
    while chunk := await part.read_chunk(64 * 1024):
        size += len(chunk)
        if size > cap:
            raise UploadError(code, status=413)
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_form(request: web.Request) -> tuple[dict[str, str], list[bytes]]:
    if request.content_length is not None and request.content_length > images.MAX_TOTAL_BYTES + BODY_SLACK:
        raise UploadError("total_too_large", status=413)
    if request.content_type == "application/x-www-form-urlencoded":  # no files: the gateway's body cap holds
        posted = await request.post()
        return {k: v for k, v in posted.items() if isinstance(v, str)}, []
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError, KeyError):
        raise CitizenError("bad_form") from None
    fields: dict[str, str] = {}
    files: list[bytes] = []
    total = 0
    for _ in range(MAX_PARTS + images.MAX_FILES):
        part = await reader.next()
        if part is None:
            return fields, files
        if not isinstance(part, BodyPartReader):
            raise CitizenError("bad_form")
        if part.name == "screenshots":
            if part.filename is None:
                raise CitizenError("bad_form")
            data = await _read_part(part, images.MAX_FILE_BYTES, "file_too_large")
            if not data:
                continue  # an empty file input
            files.append(data)
            total += len(data)
            if len(files) > images.MAX_FILES:
                raise UploadError("too_many_files", status=413)
            if total > images.MAX_TOTAL_BYTES:
                raise UploadError("total_too_large", status=413)
        elif part.name:
            raw = await _read_part(part, FIELD_BYTES, "file_too_large")
            try:
                fields[part.name] = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise CitizenError("bad_form") from None
    raise CitizenError("bad_form")


async def submit(request: web.Request) -> web.Response:
    await _limited(request, SUBMITS, SUBMITS_DAY)
    settings = request.app[SETTINGS]
    fields, files = await _read_form(request)
    # Every check before anything is written: decoding images is CPU work, so it runs off the loop.
    cleaned = await asyncio.get_running_loop().run_in_executor(None, images.clean_all, files)
    sub = service.check(Submission(
        kind=fields.get("type", ""), url=fields.get("url", ""), text=fields.get("text", ""),
        place=fields.get("place", ""), when=fields.get("when", ""), description=fields.get("description", ""),
        minor=fields.get("minor", "") in ("1", "on", "true", "yes"), channel="web", images=cleaned))
    receipt = await asyncio.get_running_loop().run_in_executor(None, service.save, settings, sub)
    if worker.WORKER in request.app:
        request.app[worker.WORKER].wake.set()
    log.info("citizen report %s stored (item %s, merged %s, %d screenshots)", receipt.report_id, receipt.item_id,
             receipt.merged, len(cleaned))  # ids and counts only
    return ok({"receipt": receipt.code, "status": "received", "label": service.STATUS_LABELS["received"],
               "merged": receipt.merged}, status=201)


async def lookup(request: web.Request) -> web.Response:
    await _limited(request, LOOKUPS)
    settings = request.app[SETTINGS]
    body = await read_json(request)
    code = body.get("code")
    if not isinstance(code, str):
        raise CitizenError("not_found", status=404)

    def work() -> dict:
        with store.session(settings) as s:
            return service.status(s, code)
    return ok(await asyncio.get_running_loop().run_in_executor(None, work))


def setup(app: web.Application) -> None:
    limits.setup(app)
    add_section(app, "citizen_reports", stats.tables)  # the citizen table in /console/stats
    worker.setup(app)
    r = app.router
    r.add_get("/report", page)
    r.add_get("/report/status", status_page)
    r.add_post("/api/report", submit)
    r.add_post("/api/report/status", lookup)
    r.add_static("/static/report/", STATIC)
