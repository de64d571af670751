"""Console accounts: argon2 password hashes, a growing wait after repeated failures (not a lockout
someone else can renew), TOTP for supervisors and admins (each code good once), password change and
reset, and server-side sessions (only a hash of the cookie token is stored, so a database copy signs
nobody in)."""
from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pyotp.utils import strings_equal
from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.core.clock import utcnow
from assistant.core.languages import KNOWN
from casebook.models import User, UserSession

ROLES = ("counsellor", "supervisor", "editor", "admin")
TOTP_ROLES = ("supervisor", "admin")  # they read everything or grant access: TOTP is required
# Failures in a row before an account has to wait, then a wait that doubles, capped: a person who
# mistypes is hardly slowed, a guesser gets about 12 tries an hour, and someone failing on purpose
# keeps a colleague out for minutes, not a renewable quarter of an hour.
FREE_FAILURES = 3
FIRST_WAIT = timedelta(seconds=15)
MAX_WAIT = timedelta(minutes=5)
SESSION_TTL = timedelta(hours=10)  # a long shift, not longer
MIN_PASSWORD = 10

_hasher = PasswordHasher()
# Verifying against this when the login is unknown costs the same time as a real check,
# so response times do not reveal which logins exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    pass


@dataclass(frozen=True)
class SignedIn:
    """What a request knows about its signed-in user."""

    user_id: int
    login: str
    name: str
    role: str
    csrf: str
    session_id: str

    @property
    def actor(self) -> str:
        return f"user:{self.login}"


class LoginFailed(Exception):
    """reason (for the audit log; people are told the same for the first three): unknown | waiting |
    invalid (wrong password or TOTP code) | totp_setup (right password, no TOTP set up for a role that needs it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def wait_after(failures: int) -> timedelta | None:
    """How long an account waits after this many failures in a row (None: not at all)."""
    if failures <= FREE_FAILURES:
        return None
    return min(FIRST_WAIT * 2 ** min(failures - FREE_FAILURES - 1, 16), MAX_WAIT)


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password must be at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def create_user(session: AsyncSession, login: str, name: str, role: str, password: str,
                      totp: bool = False) -> User:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if not login or len(login) > 60 or not login.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise AccountError("login must be 1–60 letters, digits, '.', '-' or '_'")
    if await session.scalar(select(User.id).where(User.login == login)) is not None:
        raise AccountError(f"login {login!r} already exists")
    if totp and role not in TOTP_ROLES:
        raise AccountError("TOTP is for supervisors and admins")
    if role in TOTP_ROLES and not totp:
        raise AccountError(f"a {role} needs TOTP (--totp): they can read everything or grant access")
    user = User(login=login, name=name.strip()[:60] or login, role=role, password_hash=hash_password(password),
                totp_secret=pyotp.random_base32() if totp else None, disabled=False, failed_logins=0)
    session.add(user)
    await session.flush()
    return user


def totp_uri(user: User, issuer: str = "dasi") -> str:
    assert user.totp_secret
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.login, issuer_name=issuer)


async def disable_user(session: AsyncSession, login: str) -> bool:
    user = (await session.scalars(select(User).where(User.login == login))).first()
    if user is None:
        return False
    user.disabled = True
    await _end_sessions(session, user.id)  # signed out everywhere
    return True


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def authenticate(session: AsyncSession, login: str, password: str, totp_code: str | None) -> User:
    """The user, or LoginFailed. An attempt is counted *before* the password is checked, in one
    conditional UPDATE (also the transaction's first statement, so SQLite takes its write lock at
    once), and the wait this attempt would earn as a failure is set before checking too (cleared on
    success): parallel guesses queue on the row, and past FREE_FAILURES each wait lets one through.
    Unknown, disabled and waiting accounts cost the same argon2 check as a wrong password."""
    now = utcnow()
    attempt = await session.scalar(
        update(User).where(User.login == login, User.disabled.is_(False),
                           or_(User.locked_until.is_(None), User.locked_until <= now))
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins).execution_options(synchronize_session=False))
    user = (await session.scalars(select(User).where(User.login == login))).first()
    if attempt is None or user is None:
        await _verify_async(_DUMMY_HASH, password)  # same time as a real check: no hint the login exists
        waiting = user is not None and not user.disabled
        raise LoginFailed("waiting" if waiting else "unknown")
    wait = wait_after(attempt)
    if wait is not None:
        await session.execute(update(User).where(User.id == user.id).values(locked_until=now + wait))
    ok = await _verify_async(user.password_hash, password)
    if ok and user.role in TOTP_ROLES and not user.totp_secret:
        await _reset_failures(session, user)  # the password was right: no wait for the admin's fix
        raise LoginFailed("totp_setup")
    if ok and user.totp_secret:
        step = _totp_step(user.totp_secret, totp_code or "", now)
        ok = step is not None and await _claim_step(session, user, step)
    if not ok:
        raise LoginFailed("invalid")
    await _reset_failures(session, user)
    return user


async def _reset_failures(session: AsyncSession, user: User) -> None:
    await session.execute(update(User).where(User.id == user.id).values(failed_logins=0, locked_until=None))


def _totp_step(secret: str, code: str, now: datetime) -> int | None:
    """The time-step whose code this is (the previous, current or next 30 seconds: phone clocks drift)."""
    totp, code = pyotp.TOTP(secret), "".join(code.split())
    current = totp.timecode(now)
    return next((step for step in (current - 1, current, current + 1)
                 if strings_equal(code, totp.generate_otp(step))), None)


async def _claim_step(session: AsyncSession, user: User, step: int) -> bool:
    """Accept a code's time-step only if it is later than the last one accepted, in one conditional UPDATE:
    a code seen over someone's shoulder or in a proxy's log cannot be used again, even in parallel."""
    claimed = await session.scalar(
        update(User).where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step).returning(User.id).execution_options(synchronize_session=False))
    return claimed is not None


async def _verify_async(stored: str, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(None, _verify, stored, password)


async def _end_sessions(session: AsyncSession, user_id: int, keep: str | None = None) -> None:
    stmt = delete(UserSession).where(UserSession.user_id == user_id)
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep)
    await session.execute(stmt)


async def reset_password(session: AsyncSession, login: str, password: str) -> User | None:
    """An administrator's reset (`dasi users password`): the new password, no wait, every session ended."""
    user = (await session.scalars(select(User).where(User.login == login))).first()
    if user is None:
        return None
    user.password_hash, user.failed_logins, user.locked_until = hash_password(password), 0, None
    await _end_sessions(session, user.id)
    return user


async def change_password(session: AsyncSession, me: SignedIn, old: str, new: str) -> bool:
    """The signed-in user's own change: False when the old password is wrong. Their other sessions end
    (a browser left signed in somewhere is signed out); this one stays."""
    user = await session.get(User, me.user_id)
    if user is None or not await _verify_async(user.password_hash, old):
        return False
    user.password_hash = hash_password(new)
    await _end_sessions(session, user.id, keep=me.session_id)
    return True


async def reset_totp(session: AsyncSession, login: str) -> User | None:
    """A new TOTP secret for a supervisor or admin (lost phone, or none yet): every session ended."""
    user = (await session.scalars(select(User).where(User.login == login))).first()
    if user is None:
        return None
    if user.role not in TOTP_ROLES:
        raise AccountError("TOTP is for supervisors and admins")
    user.totp_secret, user.totp_last_step = pyotp.random_base32(), None
    await _end_sessions(session, user.id)
    return user


async def start_session(session: AsyncSession, user: User) -> tuple[str, UserSession]:
    """A new random token for the cookie and a new CSRF token; returns (token, stored session)."""
    await session.execute(delete(UserSession).where(UserSession.expires_at <= utcnow()))  # tidy as we go
    token = secrets.token_urlsafe(32)
    row = UserSession(id=_token_id(token), user_id=user.id, csrf=secrets.token_urlsafe(32),
                      expires_at=utcnow() + SESSION_TTL)
    session.add(row)
    await session.flush()
    return token, row


async def signed_in(session: AsyncSession, token: str) -> SignedIn | None:
    row = (await session.execute(
        select(UserSession, User).join(User, User.id == UserSession.user_id)
        .where(UserSession.id == _token_id(token)))).first()
    if row is None:
        return None
    us, user = row
    if us.expires_at <= utcnow() or user.disabled:
        return None
    return SignedIn(user.id, user.login, user.name, user.role, us.csrf, us.id)


async def end_session(session: AsyncSession, session_id: str) -> None:
    await session.execute(delete(UserSession).where(UserSession.id == session_id))


async def list_users(session: AsyncSession) -> list[User]:
    return list((await session.scalars(select(User).order_by(User.login))).all())


def clean_languages(languages: object) -> list[str]:
    """The codes a counsellor may record (assistant.core.languages.KNOWN), deduplicated in order."""
    if not isinstance(languages, list) or not all(isinstance(c, str) for c in languages):
        raise AccountError("languages must be a list of language codes")
    unknown = [c for c in languages if c not in KNOWN]
    if unknown:
        raise AccountError(f"unknown language codes: {', '.join(unknown[:5])}")
    return list(dict.fromkeys(languages))


async def set_languages(session: AsyncSession, login: str, languages: object) -> User | None:
    """The languages an account counsels in (its own page, or an admin's); None when there is no such login."""
    codes = clean_languages(languages)
    user = await session.scalar(select(User).where(User.login == login))
    if user is None:
        return None
    user.languages = codes
    return user
