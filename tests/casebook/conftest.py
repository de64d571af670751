"""Fixtures shared by the casebook test modules: `db`, a migrated database engine (the protection
modules), and `staff`, signed-in browsers through the real gateway (the case-record modules). The shared
helper modules assert too: their failures get pytest's detailed messages, as the tests' own do."""
from __future__ import annotations

import pytest

from assistant.store.db import make_sync_engine
from assistant.store.migrate import upgrade

pytest.register_assert_rewrite("tests.casebook.case_helpers", "tests.casebook.console_helpers",
                               "tests.casebook.protection_helpers")


@pytest.fixture
def db(env, database_url):
    env(DASI_DATABASE_URL=database_url)
    upgrade(database_url)
    engine = make_sync_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def staff(gateway):
    """`await staff("kim")`: a browser signed in as kim (tests.console_client.USERS)."""
    return gateway[1]
