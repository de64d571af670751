"""Languages in the console's API, in the real gateway app on SQLite and PostgreSQL: counsellors record the
languages they speak (their own page; admins for anyone), every conversation and queue entry shows its
language, and the queue suggests the counsellors who speak a waiting conversation's language, signed-in
ones first."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from assistant.store.db import sessionmaker
from casebook.conversations import service as conv_service
from casebook.models import AuditEntry
from tests.casebook.console_helpers import path, queued

pytestmark = pytest.mark.usefixtures("cheap_hashes")


async def in_language(lang: str, user: str) -> str:
    conv = await queued(user=user)
    async with sessionmaker()() as s, s.begin():
        c = await conv_service.get_conversation(s, conv)
        await conv_service.set_language(s, c, lang, "language_detector")
    return conv


async def test_languages_are_recorded_shown_and_suggested(gateway):
    _, staff = gateway
    kim, jung = await staff("kim"), await staff("jung")
    assert (await kim.json("POST", "/api/console/me/languages", {"languages": ["vi", "en", "vi"]}))["user"][
        "languages"] == ["vi", "en"]
    assert (await kim.json("GET", "/api/console/me"))["user"]["languages"] == ["vi", "en"]
    # An admin records lee's (lee is not signed in); a counsellor may not record someone else's.
    await jung.json("POST", "/api/console/users/lee/languages", {"languages": ["vi", "th"]})
    assert (await kim.post("/api/console/users/lee/languages", {"languages": ["ru"]})).status == 403
    for bad in (["klingon"], "vi", [1]):
        assert (await kim.post("/api/console/me/languages", {"languages": bad})).status == 400
    assert (await jung.post("/api/console/users/nobody/languages", {"languages": ["vi"]})).status == 404
    users = {u["login"]: u for u in (await jung.json("GET", "/api/console/users"))["users"]}
    assert users["lee"]["languages"] == ["vi", "th"] and users["kim"]["languages"] == ["vi", "en"]

    vi, th, ko = await in_language("vi", "p-vi"), await in_language("th", "p-th"), await queued(user="p-ko")
    ru = await in_language("ru", "p-ru")
    waiting = {i["id"]: i for i in (await kim.json("GET", "/api/console/queue"))["waiting"]}
    assert waiting[vi]["language"] == "vi" and waiting[vi]["language_name"] == "베트남어"
    # kim is signed in, lee is not: signed-in first.
    assert [(p["login"], p["online"]) for p in waiting[vi]["suggested"]] == [("kim", True), ("lee", False)]
    assert [p["login"] for p in waiting[th]["suggested"]] == ["lee"]
    assert waiting[ru]["suggested"] == [] and waiting[ko]["suggested"] == [] and waiting[ko]["language"] == "ko"
    conv = (await kim.json("GET", path(vi)))["conversation"]
    assert conv["language"] == "vi" and conv["language_name"] == "베트남어" and conv["language_chosen"] is False
    async with sessionmaker()() as s:
        actions = (await s.scalars(select(AuditEntry.action).where(AuditEntry.action == "users.languages"))).all()
    assert len(actions) == 2  # kim for herself, jung for lee; never the refused ones
