"""Staff sign-in, accounts and the audit log in the console (thin: casebook.staff does the work).

POST /api/console/login {"login","password"[,"totp"]} → {"csrf_token", "user"} + session cookie
POST /api/console/logout · GET /api/console/me · POST /api/console/me/password {"old_password","new_password"}
POST /api/console/me/languages {"languages": ["vi", ...]} · POST /api/console/users/{login}/languages (admins)
GET  /api/console/audit (supervisors) · GET/POST /api/console/users, POST /api/console/users/{login}/disable (admins)

Console accounts are the only staff sign-in: the knowledge admin and the detection review use them too.
"""
from __future__ import annotations

from aiohttp import web

from assistant.core.clock import utcnow
from assistant.web import limits
from assistant.web.errors import ApiError
from assistant.web.responses import ok, read_json
from casebook.console.auth import (
    AUDIT_ROLES,
    USER_ADMIN_ROLES,
    audited,
    db,
    require_user,
    set_cookie,
    sign_in,
    sign_out,
    throttle_sign_in,
)
from casebook.models import User
from casebook.staff import accounts, audit
from casebook.staff.accounts import SignedIn


def user_json(user: SignedIn | User) -> dict:
    out = {"login": user.login, "name": user.name, "role": user.role}
    if isinstance(user, User):
        out["languages"] = list(user.languages or [])
    return out


async def login(request: web.Request) -> web.Response:
    body = await read_json(request)
    login_, password, code = body.get("login"), body.get("password"), body.get("totp")
    if not isinstance(login_, str) or not isinstance(password, str) or not login_ or not password:
        raise ApiError(400, "invalid_body", "login and password are required strings")
    if code is not None and not isinstance(code, str):
        raise ApiError(400, "invalid_totp", "totp must be a string")
    token, csrf, user = await sign_in(request, login_, password, code)
    response = ok({"csrf_token": csrf, "user": user_json(user)})
    set_cookie(request, response, token)
    return response


async def logout(request: web.Request) -> web.Response:
    await require_user(request, accounts.ROLES)
    response = ok({"ok": True})
    await sign_out(request, response)
    return response


async def me(request: web.Request) -> web.Response:
    """The signed-in user and their CSRF token (same-origin only: a JSON GET other sites cannot read)."""
    user = await require_user(request, accounts.ROLES)
    async with db(request)() as s:
        row = await s.get(User, user.user_id)
    return ok({"user": user_json(row or user), "csrf_token": user.csrf})


async def _set_languages(request: web.Request, login_: str) -> web.Response:
    body = await read_json(request)
    async with db(request)() as s, s.begin():
        try:
            user = await accounts.set_languages(s, login_, body.get("languages"))
        except accounts.AccountError as exc:
            raise ApiError(400, "invalid_languages", f"언어 코드를 확인해 주세요 ({exc}).") from None
        if user is None:
            raise ApiError(404, "not_found", "그런 계정이 없어요.")
        audited(request, s, "users.languages", "user", login_, languages=list(user.languages))
        return ok({"user": user_json(user)})


async def my_languages(request: web.Request) -> web.Response:
    """The languages the signed-in counsellor speaks: the queue suggests them for conversations in one."""
    user = await require_user(request, accounts.ROLES)
    return await _set_languages(request, user.login)


async def user_languages(request: web.Request) -> web.Response:
    await require_user(request, USER_ADMIN_ROLES)
    return await _set_languages(request, request.match_info["login"])


async def change_password(request: web.Request) -> web.Response:
    """The signed-in user's own password, with the old one (a browser left open is not enough). Their
    other sessions end; audited."""
    user = await require_user(request, accounts.ROLES)
    body = await read_json(request)
    old, new = body.get("old_password"), body.get("new_password")
    if not isinstance(old, str) or not isinstance(new, str) or not old or not new:
        raise ApiError(400, "invalid_body", "old_password and new_password are required strings")
    await throttle_sign_in(request)  # the old password is a guess like any sign-in's
    async with db(request)() as s, s.begin():
        try:
            changed = await accounts.change_password(s, user, old, new)
        except accounts.AccountError:
            raise ApiError(400, "weak_password", f"새 비밀번호는 {accounts.MIN_PASSWORD}자 이상이어야 해요.") from None
        audited(request, s, "password.change" if changed else "password.change_failed", "user", user.login)
    if not changed:
        raise ApiError(403, "wrong_password", "지금 비밀번호가 맞지 않아요.")
    return ok({"ok": True})


async def get_audit(request: web.Request) -> web.Response:
    await require_user(request, AUDIT_ROLES)
    q = request.query
    try:
        limit = int(q.get("limit", "200"))
        before = int(q["before"]) if "before" in q else None
    except ValueError:
        raise ApiError(400, "invalid_query", "limit and before must be numbers") from None
    async with db(request)() as s, s.begin():
        rows = await audit.entries(s, limit, before, q.get("actor") or None, q.get("record") or None)
        audited(request, s, "audit.view", "audit", "", count=len(rows))
    return ok({"entries": [audit.as_dict(r) for r in rows]})


async def list_users(request: web.Request) -> web.Response:
    await require_user(request, USER_ADMIN_ROLES)
    async with db(request)() as s, s.begin():
        users = await accounts.list_users(s)
        audited(request, s, "users.view", "user", "")
    return ok({"users": [{**user_json(u), "disabled": u.disabled, "totp": bool(u.totp_secret),
                          "locked": bool(u.locked_until and u.locked_until > utcnow())} for u in users]})


async def create_user(request: web.Request) -> web.Response:
    await require_user(request, USER_ADMIN_ROLES)
    body = await read_json(request)
    fields = [body.get(k) for k in ("login", "name", "role", "password")]
    if not all(isinstance(f, str) and f for f in fields):
        raise ApiError(400, "invalid_body", "login, name, role and password are required strings")
    async with db(request)() as s, s.begin():
        try:  # supervisors and admins always get TOTP: the link is shown once, to give to them
            user = await accounts.create_user(s, *fields, totp=fields[2] in accounts.TOTP_ROLES)
        except accounts.AccountError as exc:
            raise ApiError(400, "invalid_user", str(exc)) from None
        audited(request, s, "users.create", "user", user.login, role=user.role)
    extra = {"totp_uri": accounts.totp_uri(user)} if user.totp_secret else {}
    return ok({"user": user_json(user), **extra}, status=201)


async def disable_user(request: web.Request) -> web.Response:
    await require_user(request, USER_ADMIN_ROLES)
    login_ = request.match_info["login"]
    async with db(request)() as s, s.begin():
        if not await accounts.disable_user(s, login_):
            raise ApiError(404, "not_found", "그런 계정이 없어요.")
        audited(request, s, "users.disable", "user", login_)
    return ok({"ok": True})



def setup(app: web.Application) -> None:
    limits.setup(app)  # sign-in's per-address and overall limits (shared with the web chat's)
    r = app.router
    r.add_post("/api/console/login", login)
    r.add_post("/api/console/logout", logout)
    r.add_get("/api/console/me", me)
    r.add_post("/api/console/me/password", change_password)
    r.add_get("/api/console/audit", get_audit)
    r.add_get("/api/console/users", list_users)
    r.add_post("/api/console/users", create_user)
    r.add_post("/api/console/users/{login}/disable", disable_user)
    r.add_post("/api/console/me/languages", my_languages)
    r.add_post("/api/console/users/{login}/languages", user_languages)
