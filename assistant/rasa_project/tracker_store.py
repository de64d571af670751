"""Rasa's conversation trackers kept in memory only, and forgotten when idle (endpoints.yml written by
`dasi up`, assistant/cli/supervisor.py). The gateway and the casebook keep the real record, encrypted;
Rasa needs a tracker only for the dialogue (rules, MemoizationPolicy max_history 3) within a session.

Runs inside the Rasa virtualenv (Python 3.10): it may import only Rasa.
"""
from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from rasa.core.tracker_store import InMemoryTrackerStore
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
