"""The outbox: retries with backoff, Retry-After, permanent failures shown to counsellors, Meta's
reply windows, restart resume, and migration 0003 — on SQLite and PostgreSQL."""
from __future__ import annotations

import copy
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from assistant.store.db import make_sync_engine
from assistant.store.migrate import alembic_config, upgrade
from casebook.models import Message
from connectors.appkeys import OUTBOX
from connectors.outbound import retry_after, split_text, utf8_len
from tests.fakes import harness as hz


@pytest.fixture
def h(env, tmp_path, database_url):
    h = hz.start(env, tmp_path, database_url=database_url)
    yield h
    h.close()


def first_conversation(h, text_: str = "안녕하세요", mid: str = "m-out-1") -> None:
    p = copy.deepcopy(hz.fixture("meta", "messenger_batched_entries.json"))
    p["entry"] = p["entry"][:1]
    p["entry"][0]["messaging"][0]["message"].update(mid=mid, text=text_)
    assert h.meta_post(p)[0] == 200
    h.idle()


def add_reply(h, author: str = "counsellor", text_: str = "상담원이에요. 괜찮으세요?",
              inbound_age: timedelta | None = None) -> int:
    engine = make_sync_engine(h.database_url)
    with Session(engine) as s, s.begin():
        conv = h.conversations()[0]
        if inbound_age is not None:
            s.execute(text("UPDATE messages SET created_at = :t WHERE direction = 'in'"),
                      {"t": datetime.now(UTC) - inbound_age})
        m = Message(conversation_id=conv.id, direction="out", author=author, text=text_, channel=conv.channel)
        s.add(m)
        s.flush()
        mid = m.id
    engine.dispose()
    return mid


def test_retry_after_reads_seconds_dates_and_x_rate_limit_headers():
    now = 1_700_000_000.0
    assert retry_after({"Retry-After": "7"}, now) == 7
    assert retry_after({"Retry-After": "Tue, 14 Nov 2023 22:13:30 GMT"}, now) == pytest.approx(10, abs=1)
    assert retry_after({"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(now) + 30)}, now) == 30
    assert retry_after({"x-rate-limit-remaining": "3", "x-rate-limit-reset": str(int(now) + 30)}, now) is None
    assert retry_after({"Retry-After": "soon"}, now) is None


@hsettings(max_examples=80, deadline=None)
@given(st.text(min_size=0, max_size=3000), st.integers(min_value=20, max_value=1000))
def test_split_text_keeps_every_part_within_the_byte_limit(s, limit):
    parts = split_text(s, limit, utf8_len)
    assert all(utf8_len(p) <= limit for p in parts)
    assert "".join("".join(parts).split()) == "".join(s.split())  # nothing lost but the whitespace at cuts


def test_a_429_is_retried_after_retry_after(h):
    first_conversation(h)
    h.meta.fail_next(429, headers={"Retry-After": "1"})
    calls_before, started = h.meta.calls, time.monotonic()
    assert h.deliver(add_reply(h)) == "sent"
    assert time.monotonic() - started >= 0.9 and h.meta.calls == calls_before + 2
    assert h.meta.sent[-1]["json"]["messaging_type"] == "RESPONSE"


def test_meta_rate_limit_codes_are_retried_like_429(h):
    first_conversation(h)
    h.meta.fail_next(400, body={"error": {"message": "Calls to this api have exceeded the rate limit.", "code": 613}})
    mid = add_reply(h)
    assert h.deliver(mid) == "sent"
    assert h.messages(id=mid)[0].attempts == 2


def test_a_message_that_keeps_failing_is_marked_failed_and_shown(h):
    first_conversation(h)
    h.meta.fail_next(500, times=10)
    mid = add_reply(h)
    assert h.deliver(mid) == "failed"
    [m] = h.messages(id=mid)
    assert (m.delivery, m.attempts, m.delivery_error) == ("failed", 4, "http_500")
    assert any(e == {"type": "delivery_failed", "conversation": h.conversations()[0].public_id, "message_id": mid,
                     "channel": "messenger", "error": "http_500"} for e in h.events)
    assert any(e.detail == {"component": "send_messenger", "error": "http_500"}
               for e in h.conversation_events("failure"))


def test_a_refused_message_is_not_retried(h):
    first_conversation(h)
    h.meta.fail_next(400, body={"error": {"message": "Invalid parameter", "code": 100}})
    mid = add_reply(h)
    assert h.deliver(mid) == "failed"
    [m] = h.messages(id=mid)
    assert m.attempts == 1 and m.delivery_error == "http_400_code_100"


def test_counsellors_reply_with_the_human_agent_tag_after_24_hours(h):
    first_conversation(h)
    mid = add_reply(h, inbound_age=timedelta(days=3))
    assert h.deliver(mid) == "sent"
    sent = h.meta.sent[-1]["json"]
    assert sent["messaging_type"] == "MESSAGE_TAG" and sent["tag"] == "HUMAN_AGENT"


def test_after_7_days_or_for_the_bot_after_24_hours_the_window_is_closed(h):
    first_conversation(h)
    sent_before = len(h.meta.sent)
    late_counsellor = add_reply(h, inbound_age=timedelta(days=8))
    assert h.deliver(late_counsellor) == "failed"
    late_bot = add_reply(h, author="bot", inbound_age=timedelta(hours=25))
    assert h.deliver(late_bot) == "failed"
    assert {m.delivery_error for m in h.messages(delivery="failed")} == {"window_closed"}
    assert len(h.meta.sent) == sent_before
    assert sum(e["type"] == "delivery_failed" and e["error"] == "window_closed" for e in h.events) == 2


def test_web_messages_are_delivered_by_polling(h):
    from assistant.store.db import sessionmaker
    from casebook.conversations import service as cs

    async def make() -> int:
        async with sessionmaker(h.database_url)() as s, s.begin():
            conv = await cs.get_or_create_conversation(s, "web", "session-abcdefgh")
            [m] = await cs.store_replies(s, conv, [{"text": "상담원이에요"}], None, author="counsellor")
            return m.id
    mid = h.loop.run(make())
    assert h.deliver(mid) == "sent"
    assert h.messages(id=mid)[0].delivered_via == "web_poll"


def test_stored_messages_are_sent_after_a_restart(h):
    first_conversation(h)
    mid = add_reply(h)
    assert h.loop.run(h.app[OUTBOX].resume()) >= 1
    h.idle()
    assert h.messages(id=mid)[0].delivery == "sent"


def test_migration_0003_goes_down_and_up_again(env, database_url):
    from alembic import command

    upgrade(database_url, "0003")  # only this slot: later migrations belong to other work
    engine = make_sync_engine(database_url)
    try:
        cols = {c["name"] for c in inspect(engine).get_columns("messages")}
        assert {"attachments", "attempts", "next_attempt_at", "delivery_error", "delivered_via"} <= cols
        assert "kakao_callbacks" in inspect(engine).get_table_names()
        engine.dispose()
        command.downgrade(alembic_config(database_url), "0002")
        assert "kakao_callbacks" not in inspect(engine).get_table_names()
        assert "attempts" not in {c["name"] for c in inspect(engine).get_columns("messages")}
        engine.dispose()
        upgrade(database_url, "0003")
        assert "kakao_callbacks" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
