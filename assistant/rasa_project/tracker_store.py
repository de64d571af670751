"""Rasa's conversation trackers: by default kept in memory only, and forgotten when idle (endpoints.yml
written by `dasi up` / `dasi rasa`, assistant/cli/supervisor.py). The gateway and the casebook keep the
real record, encrypted; Rasa needs a tracker only for the dialogue (rules, MemoizationPolicy max_history 3)
within a session. Several Rasa servers share theirs in PostgreSQL (DASI_RASA_TRACKER_URL), encrypted with
the data key like every other table (EncryptedSQLTrackerStore).

Runs inside the Rasa virtualenv (Python 3.10): it may import only Rasa.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from typing import Any

from rasa.core.tracker_store import InMemoryTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker


class ExpiringInMemoryTrackerStore(InMemoryTrackerStore):
    """InMemoryTrackerStore that drops a conversation `expire_after` seconds after its last save. With
    the domain's session_expiration_time (60 minutes) as the expiry, nothing Rasa would still use is
    lost: after that long a new session starts anyway (slots are not carried over)."""

    def __init__(self, domain: Domain | None = None, host: str | None = None,
                 event_broker: Any = None, expire_after: float = 3600.0, **kwargs: Any) -> None:
        super().__init__(domain, event_broker, **kwargs)
        self.expire_after = float(expire_after)
        self._saved: dict[str, float] = {}

    def _forget_idle(self) -> None:
        cutoff = time.monotonic() - self.expire_after
        for sender_id in [s for s, at in self._saved.items() if at < cutoff]:
            self.store.pop(sender_id, None)
            self._saved.pop(sender_id, None)

    async def save(self, tracker: DialogueStateTracker) -> None:
        self._forget_idle()
        await super().save(tracker)
        self._saved[tracker.sender_id] = time.monotonic()

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        self._forget_idle()
        return await super().retrieve(sender_id)

    async def retrieve_full_tracker(self, sender_id: str) -> DialogueStateTracker | None:
        self._forget_idle()
        return await super().retrieve_full_tracker(sender_id)

    async def keys(self) -> Iterable[str]:
        self._forget_idle()
        return await super().keys()


# --- in a database several Rasa servers share, encrypted -------------------------------------------

DATA_KEY_ENV = "DASI_DATA_KEY"
_keys: list[str] = []


def use_keys(value: str) -> None:
    """The data keys (DASI_DATA_KEY, comma-separated, the first encrypts): serve.py hands them over and
    removes them from the environment."""
    _keys[:] = [k.strip() for k in value.split(",") if k.strip()]


def _cipher() -> Any:
    from cryptography.fernet import Fernet, MultiFernet

    keys = _keys or [k.strip() for k in os.environ.get(DATA_KEY_ENV, "").split(",") if k.strip()]
    if not keys:
        raise ValueError("the encrypted tracker store needs DASI_DATA_KEY")
    return MultiFernet([Fernet(k.encode()) for k in keys])


class EncryptedSQLTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store (PostgreSQL, DASI_RASA_TRACKER_URL) with each event's data, which holds
    the message text, encrypted with the data key (Fernet, as the app's own tables). Only what Rasa needs
    to find events stays readable: the conversation's public id, the event type, its time, the intent and
    action or slot name. Retention and erasure delete the rows by conversation (casebook/protection)."""

    def __init__(self, domain: Domain | None = None, host: str | None = None, event_broker: Any = None,
                 **kwargs: Any) -> None:
        self._fernet = _cipher()  # before connecting: no key, no start
        super().__init__(domain=domain, host=host, event_broker=event_broker, **kwargs)

    def _seal(self, data: dict) -> str:
        return self._fernet.encrypt(json.dumps(data).encode("utf-8")).decode("ascii")

    def _open(self, stored: str) -> dict:
        return json.loads(self._fernet.decrypt(stored.encode("ascii")))

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> DialogueStateTracker | None:
        with self.session_scope() as session:
            rows = self._event_query(session, sender_id,
                                     fetch_events_from_all_sessions=fetch_events_from_all_sessions).all()
            events = [self._open(row.data) for row in rows]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        with self.session_scope() as session:
            for event in self._additional_events(session, tracker):
                data = event.as_dict()
                session.add(self.SQLEvent(
                    sender_id=tracker.sender_id, type_name=event.type_name, timestamp=data.get("timestamp"),
                    intent_name=data.get("parse_data", {}).get("intent", {}).get("name"),
                    action_name=data.get("name"), data=self._seal(data)))
            session.commit()
