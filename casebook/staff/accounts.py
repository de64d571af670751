"""Console accounts: argon2 password hashes, lockout after repeated failures, optional TOTP, and
server-side sessions (only a hash of the cookie token is stored, so a database copy signs nobody in)."""
from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.core.clock import utcnow
from casebook.models import User, UserSession

ROLES = ("counsellor", "supervisor", "editor", "admin")
TOTP_ROLES = ("supervisor", "admin")  # TOTP is offered to these roles (optional)
MAX_FAILED = 5
LOCK_FOR = timedelta(minutes=15)
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
    def __init__(self, reason: str, locked_until: datetime | None = None) -> None:
        super().__init__(reason)
        self.reason, self.locked_until = reason, locked_until  # reason: invalid | locked | totp_required


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
    await session.execute(delete(UserSession).where(UserSession.user_id == user.id))  # signed out everywhere
    return True


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def authenticate(session: AsyncSession, login: str, password: str, totp_code: str | None) -> User:
    """The user, or LoginFailed. An attempt is counted *before* the password is checked, in one
    conditional UPDATE (also the transaction's first statement, so SQLite takes its write lock at
    once): parallel guesses queue on the row and at most five are ever checked; the fifth failure
    locks the account for 15 minutes. A lock that has run out starts a fresh count."""
    now = utcnow()
    expired = User.locked_until.is_not(None)  # within the WHERE below, "not None" means "ran out"
    attempt = await session.scalar(
        update(User).where(User.login == login, User.disabled.is_(False),
                           or_(User.locked_until.is_(None), User.locked_until <= now))
        .values(failed_logins=case((expired, 1), else_=User.failed_logins + 1), locked_until=None)
        .returning(User.failed_logins).execution_options(synchronize_session=False))
    user = (await session.scalars(select(User).where(User.login == login))).first()
    if attempt is None or user is None:
        if user is not None and not user.disabled and user.locked_until is not None:
            raise LoginFailed("locked", user.locked_until)
        await _verify_async(_DUMMY_HASH, password)  # same time as a real check: no hint the login exists
        raise LoginFailed("invalid")
    if attempt > MAX_FAILED:
        await _lock(session, user, now)
    ok = await _verify_async(user.password_hash, password)
    if ok and user.totp_secret:
        if not totp_code:
            raise LoginFailed("totp_required")
        ok = pyotp.TOTP(user.totp_secret).verify(totp_code, valid_window=1)
    if ok:
        await session.execute(update(User).where(User.id == user.id).values(failed_logins=0, locked_until=None))
        return user
    if attempt >= MAX_FAILED:
        await _lock(session, user, now)
    raise LoginFailed("invalid")


async def _verify_async(stored: str, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(None, _verify, stored, password)


async def _lock(session: AsyncSession, user: User, now: datetime) -> None:
    until = now + LOCK_FOR
    await session.execute(update(User).where(User.id == user.id).values(locked_until=until))
    raise LoginFailed("locked", until)


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
