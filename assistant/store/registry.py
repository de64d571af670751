"""Every package's tables, named here so that Alembic and key rotation see all of them.

Listed by module name, not imported at the top: the store is a lower layer than the packages whose
tables these are (casebook, knowledge, detection), and must not import them statically.
"""
from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from assistant.store.base import Base

MODEL_MODULES = ("casebook.models", "knowledge.models", "detection.storage.tables", "detection.outreach.tables",
                 "detection.citizen.tables")


def load_models() -> MetaData:
    """Import every model module (registering its tables on Base) and return the full metadata."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
    return Base.metadata
