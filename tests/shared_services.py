"""Services several gateways share, started for a test: a PostgreSQL database of its own (on the server
DASI_TEST_POSTGRES_URL names, dropped afterwards) and a private redis-server on a free port."""
from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import free_port, postgres_url

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


@contextmanager
def own_database() -> Iterator[str]:
    """A fresh PostgreSQL database (other suites share DASI_TEST_POSTGRES_URL's); its URL, then dropped."""
    url = postgres_url()
    if not url:
        pytest.skip("no PostgreSQL: set DASI_TEST_POSTGRES_URL (CI does)")
    import psycopg

    name = f"dasi_multi_{secrets.token_hex(4)}"
    admin = url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(url)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def redis_server(tmp: Path) -> Iterator[str]:
    """A private redis-server (no disk persistence) on a free local port; its URL."""
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server is not installed (Debian's redis-server package; .ci/run installs it)")
    port = free_port()
    proc = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("redis-server did not start")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)
