"""Several Rasa servers share their trackers in PostgreSQL, encrypted with the data key, and their
per-conversation locks in Redis (assistant/rasa_project/tracker_store.py, assistant/cli/supervisor.py)."""
from __future__ import annotations

import os
import subprocess

import pytest
import yaml
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from assistant.cli import supervisor
from assistant.core.settings import get_settings
from assistant.store.db import sync_url
from tests.assistant.test_supervisor_rasa import RASA_PY
from tests.conftest import ROOT
from tests.shared_services import own_database

SCRIPT = """
import asyncio, os
from urllib.parse import urlsplit
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered, BotUttered, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from assistant.rasa_project import tracker_store

async def main():
    u = urlsplit(os.environ["TRACKER_URL"])
    tracker_store.use_keys(os.environ.pop("DASI_DATA_KEY"))
    domain = Domain.load("assistant/rasa_project/domain.yml")
    store = tracker_store.EncryptedSQLTrackerStore(domain, host=u.hostname, dialect="postgresql", port=u.port,
                                                   db=u.path.lstrip("/"), username=u.username, password=u.password)
    events = [UserUttered("선불금 비밀메시지 갚아야 하나요", {"name": "ask_kb"}), BotUttered("답변 비밀답장")]
    tracker = DialogueStateTracker.from_events("conv-1", events, domain.slots)
    await store.save(tracker)
    tracker.update(UserUttered("두번째 비밀질문"))
    await store.save(tracker)
    again = await store.retrieve("conv-1")
    print([e.text for e in again.events if isinstance(e, (UserUttered, BotUttered))])

asyncio.run(main())
"""


def test_trackers_in_postgresql_are_encrypted_and_read_back(tmp_path):
    if not RASA_PY.exists():
        pytest.fail(".venv-rasa is missing: run `make test`, which creates it")
    key = Fernet.generate_key().decode()
    with own_database() as url:
        proc = subprocess.run([str(RASA_PY), "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=300,
                              env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "TRACKER_URL": url,
                                   "DASI_DATA_KEY": f"{key},{Fernet.generate_key().decode()}",
                                   "SQLALCHEMY_SILENCE_UBER_WARNING": "1"})
        assert proc.returncode == 0, proc.stderr[-3000:]
        said = "['선불금 비밀메시지 갚아야 하나요', '답변 비밀답장', '두번째 비밀질문']"
        assert proc.stdout.strip().splitlines()[-1] == said
        engine = create_engine(sync_url(url))
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT sender_id, type_name, intent_name, data FROM events ORDER BY id")).all()
        engine.dispose()
    assert [r.sender_id for r in rows] == ["conv-1"] * len(rows) and "user" in [r.type_name for r in rows]
    assert "ask_kb" in [r.intent_name for r in rows]  # labels stay readable for Rasa's queries
    raw = "\n".join(r.data for r in rows)
    assert "비밀" not in raw and "선불금" not in raw
    for r in rows:  # every event's data is a Fernet token under the first key
        assert Fernet(key.encode()).decrypt(r.data.encode())


def test_without_the_data_key_the_encrypted_store_does_not_start():
    script = ("from assistant.rasa_project import tracker_store\n"
              "try:\n    tracker_store.EncryptedSQLTrackerStore(None, host='127.0.0.1', dialect='postgresql')\n"
              "except ValueError as e:\n    print('refused', e)\n")
    proc = subprocess.run([str(RASA_PY), "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert "refused" in proc.stdout and "DASI_DATA_KEY" in proc.stdout, proc.stderr[-2000:]


def test_endpoints_share_the_lock_store_in_redis_and_hand_rasa_the_data_key(env, tmp_path, monkeypatch):
    env(DASI_REDIS_URL="redis://:pw@cache.internal:6380/2", DASI_RASA_TRACKER_URL="postgresql://r:pw@db:5432/rasa",
        DASI_RASA_TOKEN="tok")
    settings = get_settings()
    assert supervisor.lock_store(settings) == {"type": "redis", "url": "cache.internal", "port": 6380, "db": 2,
                                               "password": "pw", "use_ssl": False, "key_prefix": "dasi"}
    path = supervisor.write_endpoints(settings)
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert yaml.safe_load(path.read_text())["lock_store"]["type"] == "redis"
    rasa_env = supervisor.rasa_environment(settings, "tok")
    assert rasa_env["DASI_DATA_KEY"] == ",".join(settings.data_keys) and rasa_env["DASI_RASA_TOKEN"] == "tok"
    env(DASI_RASA_TRACKER_URL="mysql://r:pw@db/rasa")
    with pytest.raises(supervisor.StartupError):
        supervisor.tracker_store(get_settings())
