"""Console accounts and the audit log, on SQLite and PostgreSQL: the audit log cannot be changed on
PostgreSQL (its append-only trigger), and `dasi users add` / `dasi users disable` create and disable
accounts from the CLI, audited."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, text

from assistant.store.db import close_engines, sessionmaker
from assistant.store.migrate import upgrade
from casebook.models import AuditEntry, User
from tests.console_client import PASSWORD

pytestmark = pytest.mark.usefixtures("cheap_hashes")  # test accounts: argon2 at its lowest cost


async def test_the_audit_log_cannot_be_changed_on_postgresql(gateway, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("the append-only trigger is PostgreSQL's; SQLite relies on the code having no update path")
    _, staff = gateway
    await staff("kim")
    for statement in ("UPDATE audit_log SET actor = 'someone'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"):
            async with sessionmaker()() as s, s.begin():
                await s.execute(text(statement))


def test_cli_adds_and_disables_users(env, tmp_path, monkeypatch, capsys):
    import io

    from assistant.cli.main import main

    upgrade()
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["users", "add", "--login", "first-admin", "--name", "첫 관리자", "--role", "admin",
                 "--totp"]) == 0
    assert "created admin first-admin" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "add", "--login", "c2", "--name", "상담", "--role", "counsellor"]) == 1
    assert main(["users", "disable", "first-admin"]) == 0
    assert main(["users", "disable", "nobody"]) == 1

    async def check():
        async with sessionmaker()() as s:
            user = await s.scalar(select(User).where(User.login == "first-admin"))
            assert user.disabled and user.password_hash.startswith("$argon2id$")
            assert await s.scalar(select(func.count()).select_from(User).where(User.login == "c2")) == 0
            actions = (await s.scalars(select(AuditEntry.action).where(AuditEntry.actor == "cli"))).all()
        await close_engines()
        return actions
    actions = asyncio.run(check())
    assert actions == ["users.create_user", "users.disable_user"]
