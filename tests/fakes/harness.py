"""The gateway with every channel on, pointed at the fake platforms, all on one background loop.

Rasa is not started here (the e2e module starts the real one): its URL points at a closed port, so
the router answers with its real fallback (emergency numbers + handoff), as it does when Rasa is down.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.core.settings import get_settings
from assistant.store.db import close_engines, make_sync_engine
from assistant.store.migrate import upgrade
from assistant.web.appkeys import LIVE
from casebook.models import Conversation, ConversationEvent, Message
from connectors.appkeys import OUTBOX
from connectors.gateway import create_app
from connectors.webhook_common import b64_signature, hex_signature
from tests.conftest import ROOT, free_port
from tests.fakes.kakao import FakeKakao
from tests.fakes.meta import FakeMeta
from tests.fakes.server import ServerThread, dumps, request

KAKAO_SECRET = "kakao-skill-secret-for-tests"
META_SECRET, META_VERIFY, META_TOKEN = "meta-app-secret", "meta-verify-token", "meta-page-token"
X_CONSUMER, X_CLIENT, X_TOKEN, X_BOT = "x-consumer-secret", "x-client-secret", "x-user-token", "4337869213"
FIXTURES = ROOT / "connectors"


def fixture(platform: str, name: str) -> dict:
    return json.loads((FIXTURES / platform / "fixtures" / name).read_text())


def fixtures(platform: str) -> list[str]:
    return sorted(p.name for p in (FIXTURES / platform / "fixtures").glob("*.json") if p.name != "expected.json")


def expected(platform: str) -> dict:
    return json.loads((FIXTURES / platform / "fixtures" / "expected.json").read_text())


def channel_env(kakao_url: str, meta_url: str, x_url: str) -> dict[str, str]:
    return {"KAKAO_SKILL_SECRET": KAKAO_SECRET, "KAKAO_CALLBACK_HOSTS": "127.0.0.1",
            "META_APP_SECRET": META_SECRET, "META_VERIFY_TOKEN": META_VERIFY, "META_PAGE_ACCESS_TOKEN": META_TOKEN,
            "META_GRAPH_BASE": f"{meta_url}/v25.0",
            "X_CONSUMER_SECRET": X_CONSUMER, "X_CLIENT_SECRET": X_CLIENT, "X_USER_ACCESS_TOKEN": X_TOKEN,
            "X_BOT_USER_ID": X_BOT, "X_API_BASE": x_url}


@dataclass
class Harness:
    loop: ServerThread
    url: str
    database_url: str
    kakao: FakeKakao
    meta: FakeMeta
    x: Any
    app: Any = None
    events: list[dict] = field(default_factory=list)  # everything published on the live hub
    _collector: Any = None

    # --- sending webhooks -----------------------------------------------------------------
    def post(self, path: str, body: bytes, headers: dict | None = None):
        return request("POST", self.url + path, body, {"Content-Type": "application/json", **(headers or {})})

    def get(self, path: str):
        return request("GET", self.url + path)

    def meta_post(self, payload: Any, secret: str = META_SECRET):
        body = payload if isinstance(payload, bytes) else dumps(payload)
        return self.post("/webhooks/meta", body, {"X-Hub-Signature-256": hex_signature(secret, body)})

    def x_post(self, payload: Any, secret: str = X_CLIENT, header: str = "X-Twitter-Webhooks-Signature-OAuth2"):
        body = payload if isinstance(payload, bytes) else dumps(payload)
        return self.post("/webhooks/x", body, {header: b64_signature(secret, body)})

    def kakao_post(self, payload: Any, secret: str = KAKAO_SECRET):
        body = payload if isinstance(payload, bytes) else dumps(payload)
        return self.post("/webhooks/kakao", body, {"X-Skill-Secret": secret})

    # --- looking at the database ----------------------------------------------------------
    def messages(self, **where) -> list[Message]:
        engine = make_sync_engine(self.database_url)
        try:
            with Session(engine) as s:
                q = select(Message).order_by(Message.id)
                for k, v in where.items():
                    q = q.where(getattr(Message, k) == v)
                return list(s.scalars(q).all())
        finally:
            engine.dispose()

    def conversations(self) -> list[Conversation]:
        engine = make_sync_engine(self.database_url)
        try:
            with Session(engine) as s:
                return list(s.scalars(select(Conversation).order_by(Conversation.id)).all())
        finally:
            engine.dispose()

    def conversation_events(self, kind: str) -> list[ConversationEvent]:
        engine = make_sync_engine(self.database_url)
        try:
            with Session(engine) as s:
                return list(s.scalars(select(ConversationEvent).where(ConversationEvent.kind == kind)).all())
        finally:
            engine.dispose()

    def deliver(self, message_id: int) -> str:
        return self.loop.run(self.app[OUTBOX].deliver(message_id))

    def idle(self, timeout: float = 30) -> None:
        """Wait until background answers and deliveries are done."""
        import asyncio

        async def wait() -> None:
            outbox = self.app[OUTBOX]
            while outbox._tasks:
                await asyncio.wait(set(outbox._tasks), timeout=timeout)
        self.loop.run(wait())

    def close(self) -> None:
        self.loop.call(lambda: self._collector.cancel())
        self.loop.run(close_engines())
        self.loop.stop()


def start(env, tmp_path: Path, database_url: str | None = None, channels: bool = True, **extra: str) -> Harness:
    """`env` is the conftest fixture (fresh keys, private var dir)."""
    from tests.fakes.x import FakeX

    loop = ServerThread()
    kakao, meta, x = FakeKakao(), FakeMeta(META_TOKEN), FakeX(X_TOKEN, X_BOT)
    kakao.base = loop.serve(kakao.app())
    meta_url, x_url = loop.serve(meta.app()), loop.serve(x.app())
    database_url = database_url or f"sqlite:///{tmp_path / 'channels.db'}"
    settings_env = {"DASI_DATABASE_URL": database_url, "DASI_RASA_URL": f"http://127.0.0.1:{free_port()}",
                    "DASI_ACTIONS_URL": f"http://127.0.0.1:{free_port()}", "DASI_RASA_TIMEOUT": "2",
                    "DASI_OUTBOUND_BACKOFF": "0.05", "DASI_OUTBOUND_ATTEMPTS": "4",
                    **(channel_env(kakao.base, meta_url, x_url) if channels else {}), **extra}
    env(**settings_env)
    upgrade(database_url)
    app = create_app(get_settings())
    h = Harness(loop=loop, url="", database_url=database_url, kakao=kakao, meta=meta, x=x, app=app)
    h.url = loop.serve(app)
    queue = loop.call(lambda: app[LIVE].subscribe())

    async def collect() -> None:
        while True:
            h.events.append(await queue.get())
    h._collector = loop.call(lambda: loop.loop.create_task(collect()))
    return h
