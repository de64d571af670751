"""The one place that makes database engines and sessions.

One database URL setting; the driver is chosen from it. The gateway and the action server use async
sessions (`sessionmaker`); the CLI, detection and the knowledge editor use sync sessions
(`sync_sessions`). Each is made once per URL per process.
"""
from __future__ import annotations

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker as sync_sessionmaker

from assistant.core.settings import get_settings


def sync_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def async_url(url: str) -> str:
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///"):]
    return sync_url(url)


def _sqlite_pragmas(engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # WAL: readers do not block the writer
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=5000")
        cur.close()


def make_sync_engine(url: str | None = None) -> Engine:
    url = sync_url(url or get_settings().database_url)
    engine = create_engine(url, pool_pre_ping=True)
    if url.startswith("sqlite"):
        _sqlite_pragmas(engine)
    return engine


def make_async_engine(url: str | None = None) -> AsyncEngine:
    url = async_url(url or get_settings().database_url)
    engine = create_async_engine(url, pool_pre_ping=True)
    if url.startswith("sqlite"):
        _sqlite_pragmas(engine.sync_engine)
    return engine


_ENGINES: dict[str, async_sessionmaker] = {}


def sessionmaker(url: str | None = None) -> async_sessionmaker:
    """One engine per database URL per process."""
    url = url or get_settings().database_url
    if url not in _ENGINES:
        _ENGINES[url] = async_sessionmaker(make_async_engine(url), expire_on_commit=False)
    return _ENGINES[url]


_SYNC: dict[str, sync_sessionmaker[Session]] = {}


def sync_sessions(url: str | None = None) -> sync_sessionmaker[Session]:
    """Sync sessions for the CLI, detection and the knowledge editor; one engine per URL per process.
    Call them from worker threads in the gateway (run_in_executor), never on the event loop."""
    url = url or get_settings().database_url
    if url not in _SYNC:
        _SYNC[url] = sync_sessionmaker(make_sync_engine(url), expire_on_commit=False)
    return _SYNC[url]


def sync_engine(url: str | None = None) -> Engine:
    return sync_sessions(url).kw["bind"]


async def close_engines() -> None:
    """Dispose every cached engine (at shutdown, or when an event loop ends in tests)."""
    makers = list(_ENGINES.values())
    _ENGINES.clear()
    for maker in makers:
        await maker.kw["bind"].dispose()
    dispose_sync_engines()


def dispose_sync_engines() -> None:
    makers = list(_SYNC.values())
    _SYNC.clear()
    for maker in makers:
        maker.kw["bind"].dispose()
