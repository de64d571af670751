"""Admin sign-in until staff accounts exist: the shared secret DASI_ADMIN_SECRET, a session in a
cookie signed with HMAC over DASI_SECRET_KEY, and a CSRF token for every state-changing request.

The session lives only in the cookie (nothing server-side to clean up); it carries its own expiry,
which the signature protects. The signing key also depends on the admin secret, so changing that
secret signs everyone out.
"""
from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from assistant.settings import Settings
from connectors.appkeys import SETTINGS
from connectors.web.admin_html import CSP, e, page
from connectors.web.cookies import CSRF_HEADER, set_session_cookie, tokens_match

COOKIE = "dasi_admin"
SESSION_TTL = 8 * 3600
LOGIN_FORM_TTL = 3600  # the not-yet-signed-in session that only carries the login form's token
LOGIN_DELAY = 1.0  # seconds, after a wrong secret
CSRF_FIELD = "csrf"
LOGIN_LOCK = web.AppKey("admin_login_lock", asyncio.Lock)
_NAME = re.compile(r"[^\w .·-]", re.UNICODE)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class AdminSession:
    csrf: str
    expires: int
    user: str | None  # None until the secret was given

    @property
    def signed_in(self) -> bool:
        return self.user is not None


ADMIN = web.RequestKey("admin_session", AdminSession)  # set on the request by login_required


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signing_key(settings: Settings) -> bytes | None:
    if not settings.secret_key or not settings.admin_secret:
        return None  # admin is off: no secret to check, or nothing to sign with
    return hmac.new(settings.secret_key.encode(), b"dasi-admin-session\0" + settings.admin_secret.encode(),
                    hashlib.sha256).digest()


def _key(request: web.Request) -> bytes | None:
    return signing_key(request.app[SETTINGS])


def encode(key: bytes, session: AdminSession) -> str:
    payload = _b64(json.dumps({"c": session.csrf, "e": session.expires, "u": session.user}).encode())
    return payload + "." + _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def decode(key: bytes, value: str, now: float) -> AdminSession | None:
    payload, _, sig = value.partition(".")
    good = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    if not sig or not hmac.compare_digest(sig, good):
        return None
    try:
        data = json.loads(_unb64(payload))
        session = AdminSession(str(data["c"]), int(data["e"]), data["u"] if data["u"] is None else str(data["u"]))
    except (ValueError, KeyError, TypeError):
        return None
    return session if session.expires > now else None


def current(request: web.Request) -> AdminSession | None:
    key, value = _key(request), request.cookies.get(COOKIE)
    return decode(key, value, time.time()) if key and value else None


def _set_cookie(request: web.Request, response: web.StreamResponse, session: AdminSession) -> None:
    key = _key(request)
    assert key is not None
    set_session_cookie(request, response, COOKIE, encode(key, session), session.expires - int(time.time()),
                       "/admin")


def redirect(location: str) -> web.Response:
    """A 303 as a plain response (not raised), so cookies set on it are kept."""
    return web.Response(status=303, headers={"Location": location})


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every admin response: not cached, not framed, scripts and styles from this site only."""
    if request.path == "/admin" or request.path.startswith("/admin/"):
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"


def _forbidden() -> web.HTTPForbidden:
    return web.HTTPForbidden(text="보안 확인(CSRF)에 실패했어요. 페이지를 새로 고친 뒤 다시 시도하세요.",
                             content_type="text/plain")


async def check_csrf(request: web.Request, session: AdminSession) -> None:
    token = request.headers.get(CSRF_HEADER)
    if token is None:
        token = (await request.post()).get(CSRF_FIELD)
    if not tokens_match(token, session.csrf):
        raise _forbidden()


def login_required(handler: Handler) -> Handler:
    """Signed in, or sent to the login page; a POST also needs the session's CSRF token."""
    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        # Staff accounts (editor, admin) signed in through the console are let in as well.
        session = current(request) or await _staff_session(request)
        if session is None or not session.signed_in:
            if request.method == "GET":
                raise web.HTTPSeeOther(f"/admin/login?next={quote(request.path_qs)}")
            return await _signed_out(request)
        if request.method != "GET":
            await check_csrf(request, session)
        request[ADMIN] = session
        return await handler(request)
    return wrapped


async def _signed_out(request: web.Request) -> web.Response:
    """The 8 hours ran out while someone was editing: give their text back so nothing is lost."""
    typed = ""
    if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        value = (await request.post()).get("content")
        typed = value if isinstance(value, str) else ""
    keep = (f'<p>입력한 내용은 아래에 있어요. 복사해 두고 다시 로그인한 뒤 붙여 넣으세요.</p>'
            f'<textarea readonly rows="20" class="keep">{e(typed)}</textarea>') if typed else ""
    return page("다시 로그인해 주세요", f'<p class="error" role="alert">로그인 시간이 지났거나 로그아웃됐어요. '
                                   f'저장하지 않았어요.</p>{keep}<p><a href="/admin/login">로그인</a></p>', status=401)


async def _staff_session(request: web.Request) -> AdminSession | None:
    from connectors.web.console_auth import KNOWLEDGE_ROLES, current_user

    user = await current_user(request)
    if user is None or user.role not in KNOWLEDGE_ROLES:
        return None
    return AdminSession(user.csrf, int(time.time()) + SESSION_TTL, f"user:{user.login}")


def author(request: web.Request) -> str:
    """Who a revision is attributed to: everyone shares one secret, so the name given at sign-in."""
    user = request[ADMIN].user or ""
    if user.startswith("user:"):  # a staff account: its login, not a typed-in name
        return user
    return f"admin:{user}" if user else "admin"


def _next(target: str | None) -> str:
    # Only back into the admin pages: never an open redirect.
    if target and target.startswith("/admin/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/admin/knowledge"


def _login_page(csrf: str, next_: str, name: str = "", error: str = "", status: int = 200) -> web.Response:
    alert = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    body = (f'{alert}<form method="post" action="/admin/login" class="login">'
            f'<input type="hidden" name="csrf" value="{e(csrf)}"><input type="hidden" name="next" value="{e(next_)}">'
            f'<label>관리자 비밀번호<input type="password" name="secret" required autofocus '
            f'autocomplete="current-password"></label>'
            f'<label>이름 <small>(선택, 변경 기록에 남아요)</small><input type="text" name="name" maxlength="40" '
            f'value="{e(name)}" autocomplete="nickname"></label>'
            f'<button type="submit" class="primary">로그인</button></form>'
            f'<p class="hint">직원 계정이 생기기 전까지는 센터에서 정한 관리자 비밀번호로 들어와요. '
            f'로그인은 8시간 동안 유지돼요.</p>{STAFF_LINK}')
    return page("관리자 로그인", body, status=status)


STAFF_LINK = '<p class="hint"><a href="/console">직원 계정(편집자·관리자)으로 로그인</a></p>'


def _disabled() -> web.Response:
    return page("관리자 로그인", '<p class="error">관리자 비밀번호(DASI_ADMIN_SECRET)나 서명 키(DASI_SECRET_KEY)가 '
                             '설정되지 않아 관리 화면을 쓸 수 없어요. 운영자에게 문의하세요.</p>' + STAFF_LINK, status=503)


async def login_form(request: web.Request) -> web.StreamResponse:
    if _key(request) is None:
        return _disabled()
    session = current(request)
    next_ = _next(request.query.get("next"))
    if session is not None and session.signed_in:
        raise web.HTTPSeeOther(next_)
    if session is None:  # a short-lived session only to carry the form's CSRF token
        session = AdminSession(secrets.token_urlsafe(32), int(time.time()) + LOGIN_FORM_TTL, None)
    response = _login_page(session.csrf, next_)
    _set_cookie(request, response, session)
    return response


def _clean_name(name: str) -> str:
    return _NAME.sub("", " ".join(name.split()))[:40]


async def login(request: web.Request) -> web.StreamResponse:
    if _key(request) is None:
        return _disabled()
    session = current(request)
    if session is None:
        raise _forbidden()
    await check_csrf(request, session)
    form = await request.post()
    secret, name = str(form.get("secret", "")), _clean_name(str(form.get("name", "")))
    next_ = _next(str(form.get("next", "")))
    expected = request.app[SETTINGS].admin_secret
    if not hmac.compare_digest(secret.encode(), expected.encode()):
        async with request.app[LOGIN_LOCK]:  # wrong guesses wait in line, one per LOGIN_DELAY
            await asyncio.sleep(LOGIN_DELAY)
        return _login_page(session.csrf, next_, name, "관리자 비밀번호가 맞지 않아요. 다시 입력해 주세요.", 401)
    # A fresh session and token on sign-in, so a token seen before sign-in is worth nothing after.
    response = redirect(next_)
    _set_cookie(request, response, AdminSession(secrets.token_urlsafe(32), int(time.time()) + SESSION_TTL, name))
    return response


@login_required
async def logout(request: web.Request) -> web.StreamResponse:
    from connectors.web.console_auth import sign_out

    response = redirect("/admin/login")
    response.del_cookie(COOKIE, path="/admin")
    await sign_out(request, response)  # a staff account's console session ends too
    return response


def setup(app: web.Application) -> None:
    app[LOGIN_LOCK] = asyncio.Lock()
    app.on_response_prepare.append(security_headers)
    app.router.add_get("/admin/login", login_form)
    app.router.add_post("/admin/login", login)
    app.router.add_post("/admin/logout", logout)
