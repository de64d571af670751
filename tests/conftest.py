"""Shared fixtures: settings pointed at temporary places, and each database the suite runs against."""
from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from cryptography.fernet import Fernet

from assistant.core.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
pytest_plugins = ["tests.console_client", "tests.browser"]  # fixtures: gateway, cheap_hashes; stack, browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def serve(app: web.Application, **runner_options) -> AsyncIterator[str]:
    """Serve an aiohttp app (the gateway or a fake server) on a free local port; yields its URL."""
    runner = web.AppRunner(app, **runner_options)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def serve_routes(routes, host: str = "127.0.0.1") -> tuple[web.AppRunner, str]:
    """Serve routes on a given local address (127.0.0.2 plays an internal host); returns (runner, URL)."""
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    return runner, f"http://{host}:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]


@pytest.fixture
def env(monkeypatch, tmp_path):
    """Fresh keys and a private var dir; returns a setter for more settings. Undone after the test."""
    monkeypatch.setenv("DASI_ENV_FILE", str(tmp_path / "none.env"))
    monkeypatch.setenv("DASI_DATA_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("DASI_SECRET_KEY", "test-secret-key")
    monkeypatch.setenv("DASI_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DASI_DATABASE_URL", f"sqlite:///{tmp_path / 'dasi.db'}")

    def set_(**values: str) -> None:
        for k, v in values.items():
            monkeypatch.setenv(k, v)
        get_settings.cache_clear()

    get_settings.cache_clear()
    yield set_
    get_settings.cache_clear()


def postgres_url() -> str | None:
    url = os.environ.get("DASI_TEST_POSTGRES_URL")
    if not url and os.environ.get("DASI_REQUIRE_POSTGRES"):
        pytest.fail("DASI_REQUIRE_POSTGRES is set but DASI_TEST_POSTGRES_URL is not")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """Each casebook test runs on SQLite and on PostgreSQL (a fresh schema each time)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'casebook.db'}"
    url = postgres_url()
    if not url:
        pytest.skip("no PostgreSQL: set DASI_TEST_POSTGRES_URL (CI does)")
    from sqlalchemy import create_engine, text

    from assistant.store.db import sync_url

    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url
