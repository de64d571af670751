"""Sign-in for the knowledge admin: staff accounts (editor, admin) through the console's one sign-in.

The shared DASI_ADMIN_SECRET is retired: every revision is attributed to a named account. The login
form is a plain HTML form (works without JavaScript); it is protected against login CSRF by a
double-submit token (a random value in a SameSite=Strict cookie and in the form). Signed in, every
state-changing request needs the session's CSRF token (header X-CSRF-Token or form field `csrf`).
"""
from __future__ import annotations

import functools
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from assistant.web.cookies import CSRF_HEADER, set_session_cookie, tokens_match
from assistant.web.errors import ApiError
from casebook.console.auth import KNOWLEDGE_ROLES, USER, current_user, set_cookie, sign_in, sign_out
from casebook.staff.accounts import SignedIn
from knowledge.admin.html import e, page

FORM_COOKIE = "dasi_admin_form"
FORM_TTL = 3600  # seconds the login form's token is good for
CSRF_FIELD = "csrf"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def redirect(location: str) -> web.Response:
    """A 303 as a plain response (not raised), so cookies set on it are kept."""
    return web.Response(status=303, headers={"Location": location})


def _forbidden() -> web.HTTPForbidden:
    return web.HTTPForbidden(text="보안 확인(CSRF)에 실패했어요. 페이지를 새로 고친 뒤 다시 시도하세요.",
                             content_type="text/plain")


async def _form_token(request: web.Request) -> object:
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        token = (await request.post()).get(CSRF_FIELD)
    return token


def staff(request: web.Request) -> SignedIn:
    """The signed-in editor or admin of a request that passed `login_required`."""
    return request[USER]


def login_required(handler: Handler) -> Handler:
    """Signed in as an editor or admin, or sent to the login page; a POST also needs the CSRF token."""
    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        user = await current_user(request)
        if user is None or user.role not in KNOWLEDGE_ROLES:  # a counsellor's session does not open it either
            if request.method == "GET":
                raise web.HTTPSeeOther(f"/admin/login?next={quote(request.path_qs)}")
            return await _signed_out(request)
        if request.method != "GET" and not tokens_match(await _form_token(request), user.csrf):
            raise _forbidden()
        return await handler(request)
    return wrapped


async def _signed_out(request: web.Request) -> web.Response:
    """The session ran out while someone was editing: give their text back so nothing is lost."""
    typed = ""
    if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        value = (await request.post()).get("content")
        typed = value if isinstance(value, str) else ""
    keep = (f'<p>입력한 내용은 아래에 있어요. 복사해 두고 다시 로그인한 뒤 붙여 넣으세요.</p>'
            f'<textarea readonly rows="20" class="keep">{e(typed)}</textarea>') if typed else ""
    return page("다시 로그인해 주세요", f'<p class="error" role="alert">로그인 시간이 지났거나 로그아웃됐어요. '
                                   f'저장하지 않았어요.</p>{keep}<p><a href="/admin/login">로그인</a></p>', status=401)


def author(request: web.Request) -> str:
    """Who a revision is attributed to: the signed-in account."""
    return staff(request).actor


def _next(target: str | None) -> str:
    # Only back into the admin pages: never an open redirect.
    if target and target.startswith("/admin/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/admin/knowledge"


def _login_page(form_token: str, next_: str, login: str = "", error: str = "", status: int = 200) -> web.Response:
    alert = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    body = (f'{alert}<form method="post" action="/admin/login" class="login">'
            f'<input type="hidden" name="csrf" value="{e(form_token)}">'
            f'<input type="hidden" name="next" value="{e(next_)}">'
            f'<label>아이디<input type="text" name="login" required autofocus autocomplete="username" '
            f'value="{e(login)}"></label>'
            f'<label>비밀번호<input type="password" name="password" required autocomplete="current-password"></label>'
            f'<label>인증 코드 <small>(관리자: 인증 앱의 6자리)</small>'
            f'<input type="text" name="totp" inputmode="numeric" autocomplete="one-time-code" maxlength="8"></label>'
            f'<button type="submit" class="primary">로그인</button></form>'
            f'<p class="hint">편집자·관리자 직원 계정으로 로그인해요. 계정은 관리자가 만들어요 '
            f'(<code>dasi users add --role editor</code>).</p>')
    return page("관리자 로그인", body, status=status)


def _with_form_token(request: web.Request, response: web.Response, token: str) -> web.Response:
    set_session_cookie(request, response, FORM_COOKIE, token, FORM_TTL, "/admin/login")
    return response


async def login_form(request: web.Request) -> web.StreamResponse:
    next_ = _next(request.query.get("next"))
    user = await current_user(request)
    if user is not None and user.role in KNOWLEDGE_ROLES:
        raise web.HTTPSeeOther(next_)
    token = secrets.token_urlsafe(32)
    error = "" if user is None else (f"지금 로그인한 계정({user.login})은 지식베이스를 편집할 수 없어요. "
                                     "편집자나 관리자 계정으로 로그인하세요.")
    return _with_form_token(request, _login_page(token, next_, error=error), token)


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    token = request.cookies.get(FORM_COOKIE, "")
    if not token or not tokens_match(form.get(CSRF_FIELD), token):
        raise _forbidden()
    login_, password = str(form.get("login", "")).strip(), str(form.get("password", ""))
    totp = str(form.get("totp", "")).strip() or None
    next_ = _next(str(form.get("next", "")))
    try:
        if not login_ or not password:
            raise ApiError(400, "invalid_body", "아이디와 비밀번호를 입력해 주세요.")
        session_token, _, _ = await sign_in(request, login_, password, totp, KNOWLEDGE_ROLES)
    except ApiError as exc:
        return _with_form_token(request, _login_page(token, next_, login_, exc.message, exc.status), token)
    response = redirect(next_)
    set_cookie(request, response, session_token)
    response.del_cookie(FORM_COOKIE, path="/admin/login")
    return response


@login_required
async def logout(request: web.Request) -> web.StreamResponse:
    response = redirect("/admin/login")
    await sign_out(request, response)
    return response


def setup(app: web.Application) -> None:
    app.router.add_get("/admin/login", login_form)
    app.router.add_post("/admin/login", login)
    app.router.add_post("/admin/logout", logout)
