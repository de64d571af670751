"""Shared by the case-record tests (test_case_workflow, test_case_permissions, test_case_bad_input):
a new person's details, opening a case through the console API, and counting stored rows.
Not a test module: imported by them."""
from __future__ import annotations

from sqlalchemy import func, select

from assistant.store.db import sessionmaker
from tests.console_client import Staff


def new_person(name: str = "가명-하늘", **extra) -> dict:
    return {"name": name, "contact": {"phone": "010-0000-0000"}, "youth": False, **extra}


async def open_case(b: Staff, status: int = 201, **body) -> dict:
    body.setdefault("route", "visit")
    if "person_id" not in body and "conversation_id" not in body:
        body.setdefault("person", new_person())
    return (await b.json("POST", "/api/console/cases", body, status))


async def count(model) -> int:
    async with sessionmaker()() as s:
        return await s.scalar(select(func.count()).select_from(model))
