"""Alembic environment: the URL comes from dasi settings unless the caller set one; the target is every
package's tables (assistant.store.registry), so autogenerate compares all of them."""
from __future__ import annotations

from alembic import context

from assistant.store.db import make_sync_engine
from assistant.store.registry import load_models

config = context.config


def run_migrations_online() -> None:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url") or None
    engine = make_sync_engine(url)
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # Batch migrations recreate a table and drop the old one; with foreign keys on, that drop
            # cascades and deletes every child row (messages, events). Off for the migration's connection.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(connection=connection, target_metadata=load_models(),
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
