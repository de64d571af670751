"""Alembic environment: the URL comes from dasi settings unless the caller set one."""
from __future__ import annotations

from alembic import context

from casebook.db import make_sync_engine
from casebook.models import Base

config = context.config


def run_migrations_online() -> None:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url") or None
    engine = make_sync_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
