"""Case records in the console: the page and its JSON API (the contract the page is built against).

GET  /console/cases                                   the page (no data until the API says who you are)
GET  /api/console/cases?step=&mine=1&due=1&limit=&offset= · POST /api/console/cases
GET  /api/console/cases/{number}
POST /api/console/cases/{number}/transition|services|entries|members|owner
POST /api/console/cases/{number}/documents (multipart, field "file", ≤ 10 MB)
GET  /api/console/cases/{number}/documents/{id}
POST /api/console/cases/{number}/followups/{id}/done
GET  /api/console/followups/due · GET /api/console/persons/{id}
POST /api/console/conversations/{public_id}/person {"person_id"}

HTTP only: the rules (permissions, workflow, numbering, audit of every read) are in casebook/cases/.
A permission refusal is audited in a transaction of its own, so it is kept although the request fails.
"""
from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, unquote

import aiohttp
from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from assistant.web.errors import ApiError
from assistant.web.responses import ok, path_int, query_flag, query_int, read_json
from casebook.cases import errors, inputs, permissions, reading
from casebook.cases import service as case_service
from casebook.console.auth import CONSOLE_ROLES, audited, client_ip, db, require_user
from casebook.console.pages import STATIC

NUMBER_ROUTE = r"{number:\d{4}-\d{4,6}}"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _errors(handler: Handler) -> Handler:
    """casebook.cases.service refusals as the console's JSON errors (plus `missing` for a refused move)."""
    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except errors.CaseError as exc:
            if exc.denied:
                action, record_type, record_id = exc.denied
                async with db(request)() as s, s.begin():
                    audited(request, s, f"{action}.denied", record_type, record_id)
            body: dict[str, Any] = {"error": exc.code, "message": exc.message}
            if exc.missing is not None:
                body["missing"] = list(exc.missing)
            return ok(body, exc.status)
    return wrapped


# --- the page -----------------------------------------------------------------------------------

async def page(request: web.Request) -> web.StreamResponse:
    path = STATIC / "cases.html"
    if not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path)  # security headers: assistant.web.headers


# --- reading ------------------------------------------------------------------------------------

@_errors
async def list_cases(request: web.Request) -> web.Response:
    user = await require_user(request, CONSOLE_ROLES)
    step = request.query.get("step") or None
    limit, offset = query_int(request, "limit", 50), query_int(request, "offset", 0)
    async with db(request)() as s, s.begin():
        rows, total = await reading.list_cases(s, user, step=step, mine=query_flag(request, "mine"),
                                               due=query_flag(request, "due"),
                                               limit=limit, offset=offset, ip=client_ip(request))
    return ok({"cases": rows, "total": total})


@_errors
async def get_case(request: web.Request) -> web.Response:
    user = await require_user(request, CONSOLE_ROLES)
    async with db(request)() as s, s.begin():
        detail = await reading.get_case(s, user, request.match_info["number"], client_ip(request))
    return ok({"case": detail})


@_errors
async def get_document(request: web.Request) -> web.Response:
    user = await require_user(request, CONSOLE_ROLES)
    doc_id = path_int(request, "doc")
    async with db(request)() as s, s.begin():
        filename, content_type, content = await reading.get_document(s, user, request.match_info["number"], doc_id,
                                                                   client_ip(request))
    fallback = "".join(ch if ch.isascii() and ch.isalnum() or ch in "._-" else "_" for ch in filename) or "document"
    return web.Response(body=content, headers={
        "Content-Type": content_type,
        "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


@_errors
async def due_followups(request: web.Request) -> web.Response:
    user = await require_user(request, CONSOLE_ROLES)
    async with db(request)() as s, s.begin():
        rows = await reading.due_followups(s, user, client_ip(request))
    return ok({"followups": rows})


@_errors
async def get_person(request: web.Request) -> web.Response:
    user = await require_user(request, CONSOLE_ROLES)
    person_id = path_int(request, "id")
    async with db(request)() as s, s.begin():
        person = await reading.get_person(s, user, person_id, client_ip(request))
    return ok({"person": person})


# --- changing -----------------------------------------------------------------------------------

@_errors
async def open_case(request: web.Request) -> web.Response:
    user = await require_user(request, CONSOLE_ROLES)
    body = await read_json(request)
    unknown = set(body) - inputs.OPEN_FIELDS
    if unknown:
        raise ApiError(400, "invalid_body", f"알 수 없는 항목이 있어요: {', '.join(sorted(unknown))}")
    async with db(request)() as s, s.begin():
        case = await case_service.open_case(s, user, ip=client_ip(request), **body)
        detail = await reading.case_detail(s, case)
    return ok({"case": detail}, status=201)


@_errors
async def transition(request: web.Request) -> web.Response:
    user = await require_user(request, CONSOLE_ROLES)
    body = await read_json(request)
    async with db(request)() as s, s.begin():
        case = await case_service.transition(s, user, request.match_info["number"], body.get("to"), body.get("data"),
                                      body.get("on"), ip=client_ip(request))
        detail = await reading.case_detail(s, case)
    return ok({"case": detail})


@_errors
async def add_service(request: web.Request) -> web.Response:
    user = await require_user(request, CONSOLE_ROLES)
    body = await read_json(request)
    async with db(request)() as s, s.begin():
        service = await case_service.add_service(s, user, request.match_info["number"], body.get("kind"),
                                                 body.get("on"),
                                          body.get("minutes"), body.get("partner"), body.get("note"),
                                          ip=client_ip(request))
        out = reading.service_json(service, user.name)
    return ok({"service": out}, status=201)


@_errors
async def add_entry(request: web.Request) -> web.Response:
    user = await require_user(request, CONSOLE_ROLES)
    body = await read_json(request)
    async with db(request)() as s, s.begin():
        entry = await case_service.add_entry(s, user, request.match_info["number"], body.get("kind"), body.get("body"),
                                      ip=client_ip(request))
        out = reading.entry_json(entry, user.name)
    return ok({"entry": out}, status=201)


async def _read_upload(request: web.Request) -> tuple[str, str, bytes]:
    """The multipart field "file", streamed: refused once it passes the limit (the rest is drained, so
    the browser still gets the answer). The gateway's small body limit does not apply to streaming."""
    if not request.content_type.startswith("multipart/"):
        raise ApiError(415, "unsupported_media_type", "파일은 multipart/form-data로 보내 주세요.")
    limit = inputs.MAX_DOCUMENT
    if request.content_length is not None and request.content_length > 4 * limit:
        raise ApiError(413, "file_too_large", f"파일은 {limit // (1024 * 1024)}MB까지 올릴 수 있어요.")
    try:
        return await _read_parts(request, limit)
    except (ValueError, AssertionError, HttpProcessingError, aiohttp.ClientPayloadError):  # a malformed body
        raise ApiError(400, "invalid_multipart", "파일 업로드 형식이 올바르지 않아요.") from None


async def _read_parts(request: web.Request, limit: int) -> tuple[str, str, bytes]:
    reader = await request.multipart()
    found: tuple[str, str, bytes] | None = None
    too_large = False
    while (part := await reader.next()) is not None:
        if getattr(part, "name", None) != "file" or found is not None or not isinstance(part, BodyPartReader):
            await part.release()
            continue
        data = bytearray()
        while chunk := await part.read_chunk(64 * 1024):
            if not too_large:
                data += chunk
                too_large = len(data) > limit
        if too_large:
            data = bytearray()
        # Browsers send the name as UTF-8 with '"' as %22; aiohttp clients percent-encode all of it.
        found = (unquote(part.filename or ""), part.headers.get("Content-Type", ""), bytes(data))
    if too_large:
        raise ApiError(413, "file_too_large", f"파일은 {limit // (1024 * 1024)}MB까지 올릴 수 있어요.")
    if found is None:
        raise ApiError(400, "invalid_file", "'file' 항목에 파일을 담아 보내 주세요.")
    return found


@_errors
async def add_document(request: web.Request) -> web.Response:
    user = await require_user(request, CONSOLE_ROLES)
    number = request.match_info["number"]
    async with db(request)() as s:  # permission first: an outsider's upload is refused before it is read
        await permissions.check_access(s, user, number, "case.document")
    filename, content_type, content = await _read_upload(request)
    async with db(request)() as s, s.begin():
        doc = await case_service.add_document(s, user, number, filename, content_type, content, ip=client_ip(request))
        out = reading.document_json(doc)
    return ok({"document": out}, status=201)


@_errors
async def followup_done(request: web.Request) -> web.Response:
    user = await require_user(request, CONSOLE_ROLES)
    body = await read_json(request)
    followup_id = path_int(request, "fid")
    async with db(request)() as s, s.begin():
        case = await case_service.followup_done(s, user, request.match_info["number"], followup_id, body.get("note"),
                                         body.get("on"), ip=client_ip(request))
        detail = await reading.case_detail(s, case)
    return ok({"case": detail})


def _staff_change(change: Callable[..., Awaitable[Any]]) -> Handler:
    """POST {"login"}: add a member (supervisor or owner) or set the owner (supervisor) → the case."""
    @_errors
    async def handler(request: web.Request) -> web.Response:
        user = await require_user(request, CONSOLE_ROLES)
        body = await read_json(request)
        async with db(request)() as s, s.begin():
            case = await change(s, user, request.match_info["number"], body.get("login"), ip=client_ip(request))
            detail = await reading.case_detail(s, case)
        return ok({"case": detail})
    return handler


@_errors
async def link_person(request: web.Request) -> web.Response:
    user = await require_user(request, CONSOLE_ROLES)
    body = await read_json(request)
    async with db(request)() as s, s.begin():
        person = await case_service.link_conversation(s, user, request.match_info["id"], body.get("person_id"),
                                               client_ip(request))
    return ok({"person": person, "conversation": {"id": request.match_info["id"], "person_id": person["id"]}})


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/console/cases", page)
    r.add_get("/api/console/cases", list_cases)
    r.add_post("/api/console/cases", open_case)
    base = f"/api/console/cases/{NUMBER_ROUTE}"
    r.add_get(base, get_case)
    r.add_post(f"{base}/transition", transition)
    r.add_post(f"{base}/services", add_service)
    r.add_post(f"{base}/entries", add_entry)
    r.add_post(f"{base}/documents", add_document)
    r.add_get(f"{base}/documents/{{doc:[0-9]+}}", get_document)
    r.add_post(f"{base}/followups/{{fid:[0-9]+}}/done", followup_done)
    r.add_post(f"{base}/members", _staff_change(case_service.add_member))
    r.add_post(f"{base}/owner", _staff_change(case_service.set_owner))
    r.add_get("/api/console/followups/due", due_followups)
    r.add_get("/api/console/persons/{id:[0-9]+}", get_person)
    r.add_post("/api/console/conversations/{id:[0-9a-f-]{36}}/person", link_person)
