"""The tables the code declares and the tables the migrations build are the same, on SQLite and PostgreSQL:
`alembic revision --autogenerate` would produce nothing. A model changed without a migration fails here."""
from __future__ import annotations

import importlib
import pkgutil

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from assistant.store.base import Base
from assistant.store.db import make_sync_engine
from assistant.store.migrate import upgrade
from assistant.store.registry import MODEL_MODULES, load_models


def test_migrations_build_exactly_the_declared_tables(env, database_url):
    env(DASI_DATABASE_URL=database_url)
    upgrade(database_url)
    metadata = load_models()
    engine = make_sync_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                             "render_as_batch": conn.dialect.name == "sqlite"})
            diff = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_every_model_lives_in_a_registered_module():
    """Alembic and key rotation see a table only through the registry: a model defined anywhere else
    (found by importing every module of the project) fails here."""
    for package in ("assistant", "actions", "connectors", "casebook", "knowledge", "detection"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, package + "."):
            if not info.name.startswith(("assistant.rasa_project", "assistant.store.migrations")) \
                    and not info.name.endswith("__main__"):
                importlib.import_module(info.name)
    modules = {mapper.class_.__module__ for mapper in Base.registry.mappers}
    assert modules == set(MODEL_MODULES)
