"""Conversation storage on SQLite and PostgreSQL: idempotent, encrypted at rest, audited changes."""
import pytest
from sqlalchemy import select, text

from assistant.store.db import close_engines, sessionmaker
from assistant.store.migrate import upgrade
from casebook.conversations import service as cs
from casebook.models import ConversationEvent


@pytest.fixture
async def sessions(env, database_url):
    env(DASI_DATABASE_URL=database_url)
    upgrade(database_url)
    yield sessionmaker(database_url)
    await close_engines()


async def test_a_retried_message_is_stored_once(sessions):
    async with sessions() as s, s.begin():
        conv = await cs.get_or_create_conversation(s, "instagram", "igsid-1")
        first, created1 = await cs.store_inbound(s, conv, "안녕하세요", "mid.1")
        again, created2 = await cs.store_inbound(s, conv, "안녕하세요", "mid.1")
    assert created1 and not created2 and first.id == again.id
    async with sessions() as s:
        conv2 = await cs.get_or_create_conversation(s, "instagram", "igsid-1")
        assert conv2.id == conv.id  # same person, same open conversation
        count = await s.scalar(text("SELECT count(*) FROM messages"))
    assert count == 1


async def test_message_text_and_user_ids_are_encrypted_at_rest(sessions, database_url):
    secret_text, user = "제 이름은 김민지이고 010-1234-5678이에요", "kakao-user-xyz"
    async with sessions() as s, s.begin():
        conv = await cs.get_or_create_conversation(s, "kakao", user)
        await cs.store_inbound(s, conv, secret_text, None)
        await cs.store_replies(s, conv, [{"text": "답장 내용 비밀",
                                          "buttons": [{"title": "상담원 연결", "payload": "/x"}]}], None)
    async with sessions() as s:
        rows = (await s.execute(text("SELECT text, buttons FROM messages"))).all()
        users = (await s.execute(text("SELECT user_ref, user_key FROM conversations"))).all()
        dump = repr(rows) + repr(users)
        for plain in ("김민지", "010-1234-5678", "답장 내용", "상담원 연결", user):
            assert plain not in dump
        # ... and the application reads them back.
        conv = await cs.find_open_conversation(s, "kakao", user)
        stored = [m.text for m in await s.run_sync(lambda ss: ss.get(type(conv), conv.id).messages)]
        assert secret_text in stored


async def test_risk_only_rises_and_every_change_is_an_event(sessions):
    async with sessions() as s, s.begin():
        conv = await cs.get_or_create_conversation(s, "web", "session-abc123")
        assert await cs.raise_risk(s, conv, "high", "safety_screen")
        assert not await cs.raise_risk(s, conv, "medium", "bot")
        assert conv.risk == "high"
        assert await cs.request_handoff(s, conv, "bot", reason="requested")
        assert not await cs.request_handoff(s, conv, "bot", reason="again")
        assert conv.state == "waiting" and conv.waiting_since is not None
    async with sessions() as s:
        kinds = (await s.scalars(select(ConversationEvent.kind).where(
            ConversationEvent.conversation_id == conv.id).order_by(ConversationEvent.id))).all()
    assert kinds == ["opened", "risk", "state"]


async def test_disallowed_transitions_are_refused(sessions):
    async with sessions() as s, s.begin():
        conv = await cs.get_or_create_conversation(s, "web", "session-xyz789")
        await cs.change_state(s, conv, "closed", "user:counsellor1")
        with pytest.raises(cs.TransitionError):
            await cs.change_state(s, conv, "counsellor", "user:counsellor1")
    async with sessions() as s:
        # A closed conversation is not reused: the person starts a new one.
        again = await cs.get_or_create_conversation(s, "web", "session-xyz789")
        assert again.id != conv.id


async def test_queue_orders_by_risk_then_waiting_time(sessions):
    async with sessions() as s, s.begin():
        early = await cs.get_or_create_conversation(s, "web", "session-early1")
        await cs.request_handoff(s, early, "bot", reason="requested")
        late = await cs.get_or_create_conversation(s, "web", "session-late01")
        await cs.request_handoff(s, late, "bot", reason="requested")
        urgent = await cs.get_or_create_conversation(s, "web", "session-urgent")
        await cs.raise_risk(s, urgent, "critical", "safety_screen")
        await cs.request_handoff(s, urgent, "safety_screen", reason="safety_screen")
        assert await cs.queue_position(s, urgent) == 0
        assert await cs.queue_position(s, early) == 1
        assert await cs.queue_position(s, late) == 2
