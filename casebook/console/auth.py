"""Who is signed in to the console, and what they may do: checked on the server for every request.

`require_user(request, roles=...)` (or the `user_required(...)` decorator) is the one check every
staff page and API uses, including the websocket and the detection review: 401 when not signed in,
403 for a missing or wrong CSRF token on a state-changing request, 403 when the role may not.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web
from sqlalchemy.ext.asyncio import async_sessionmaker

from assistant.store.db import sessionmaker
from assistant.web import limits
from assistant.web.appkeys import SETTINGS
from assistant.web.cookies import CSRF_HEADER, SAFE_METHODS, set_session_cookie, tokens_match
from assistant.web.errors import ApiError
from assistant.web.limits import Limit
from casebook.staff import accounts, audit
from casebook.staff.accounts import LoginFailed, SignedIn

log = logging.getLogger("dasi.console")

COOKIE = "dasi_console"
CONSOLE_ROLES = ("counsellor", "supervisor")
KNOWLEDGE_ROLES = ("editor", "admin")
AUDIT_ROLES = ("supervisor",)
USER_ADMIN_ROLES = ("admin",)
USER = web.RequestKey("console_user", SignedIn)
_LOOKED_UP = web.RequestKey("console_user_looked_up", bool)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def db(request: web.Request) -> async_sessionmaker:
    return sessionmaker(request.app[SETTINGS].database_url)


def client_ip(request: web.Request) -> str:
    return request.remote or ""


async def current_user(request: web.Request) -> SignedIn | None:
    """The signed-in user for this request (looked up once per request), or None."""
    if request.get(_LOOKED_UP):
        return request.get(USER)
    request[_LOOKED_UP] = True
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    async with db(request)() as s:
        user = await accounts.signed_in(s, token)
    if user is not None:
        request[USER] = user
    return user


async def require_user(request: web.Request, roles: Iterable[str] = CONSOLE_ROLES) -> SignedIn:
    user = await current_user(request)
    if user is None:
        raise ApiError(401, "not_signed_in", "로그인이 필요해요. 다시 로그인해 주세요.")
    if request.method not in SAFE_METHODS and not tokens_match(request.headers.get(CSRF_HEADER), user.csrf):
        raise ApiError(403, "csrf_failed", f"보안 확인에 실패했어요: {CSRF_HEADER} 헤더가 없거나 맞지 않아요. "
                                           "페이지를 새로 고친 뒤 다시 시도하세요.")
    if user.role not in tuple(roles):
        raise ApiError(403, "forbidden", "이 계정의 역할로는 할 수 없는 일이에요.")
    return user


def user_required(*roles: str) -> Callable[[Handler], Handler]:
    """Decorator form of require_user; the user is then `request[USER]`."""
    allowed = roles or CONSOLE_ROLES

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapped(request: web.Request) -> web.StreamResponse:
            await require_user(request, allowed)
            return await handler(request)
        return wrapped
    return wrap


def audited(request: web.Request, session, action: str, record_type: str = "", record_id: str = "",
            **detail) -> None:
    """An audit entry for this request's user, in the caller's transaction."""
    user = request.get(USER)
    audit.record(session, user.actor if user else "anonymous", action, record_type, record_id,
                 client_ip(request), **detail)


def set_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    set_session_cookie(request, response, COOKIE, token, int(accounts.SESSION_TTL.total_seconds()), "/")


async def sign_out(request: web.Request, response: web.StreamResponse) -> None:
    user = await current_user(request)
    if user is not None:
        async with db(request)() as s, s.begin():
            await accounts.end_session(s, user.session_id)
            audited(request, s, "logout", "user", user.login)
    response.del_cookie(COOKIE, path="/")


# Every sign-in costs an argon2 hash: limited per address (a whole office behind one address signing in
# at the start of a shift stays well under it) and in all (at most a fraction of one core hashing).
LOGIN_PER_ADDRESS = Limit("login-address", "20/minute")
LOGIN_ALL = Limit("login-all", "200/minute")

# Unknown login, wrong password, wrong or reused TOTP code, an account made to wait: one answer, so
# nobody learns which logins exist, that a password was right, or that an account is being guessed at.
INVALID = (401, "invalid_credentials", "아이디나 비밀번호가 맞지 않아요 (인증 코드를 쓰는 계정은 코드도 확인해 "
                                       "주세요). 여러 번 틀리면 잠시 기다린 뒤에 다시 시도해야 해요.")
LOGIN_MESSAGES = {
    "unknown": INVALID,
    "waiting": INVALID,
    "invalid": INVALID,
    # Only after the right password: a supervisor or admin without TOTP cannot sign in until it is set up.
    "totp_setup": (403, "totp_setup_required", "이 계정은 인증 앱(OTP) 설정이 필요해요. 관리자에게 설정을 "
                                               "요청하세요 (dasi users totp 아이디)."),
    "role": (403, "forbidden", "이 계정의 역할로는 들어올 수 없는 화면이에요."),
}


async def throttle_sign_in(request: web.Request) -> None:
    """Before any password is hashed (sign-in, password change): 429 past the per-address or overall rate."""
    wait = await request.app[limits.LIMITER].hit((LOGIN_PER_ADDRESS, limits.client_address(request)),
                                                 (LOGIN_ALL, "all"))
    if wait:
        raise ApiError(429, "too_many_attempts", f"로그인 시도가 너무 많아요. {wait}초 뒤에 다시 시도하세요.")


async def sign_in(request: web.Request, login: str, password: str, totp: str | None,
                  roles: Iterable[str] = accounts.ROLES) -> tuple[str, str, SignedIn]:
    """The one staff sign-in (console JSON and the knowledge admin's form): checks the password (and TOTP),
    audits the attempt and starts a session. Returns (cookie token, CSRF token, user); raises ApiError."""
    await throttle_sign_in(request)
    failure: LoginFailed | None = None
    async with db(request)() as s, s.begin():  # the failure count is committed even when sign-in fails
        try:
            user = await accounts.authenticate(s, login[:60], password, totp)
            if user.role not in tuple(roles):
                raise LoginFailed("role")
        except LoginFailed as exc:
            failure = exc
            audit.record(s, f"user:{login[:55]}", "login_failed", "user", login[:60], client_ip(request),
                         reason=exc.reason)
        else:
            token, row = await accounts.start_session(s, user)
            audit.record(s, f"user:{user.login}", "login", "user", user.login, client_ip(request))
    if failure is not None:
        raise ApiError(*LOGIN_MESSAGES[failure.reason])
    return token, row.csrf, SignedIn(user.id, user.login, user.name, user.role, row.csrf, row.id)
