"""A counsellor corrects the risk assessment from the console: the queue takes the new level at once (even a
lower one), the correction is kept as labelled data (encrypted), and `dasi risk labels export` writes it
for the next training run."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import select, text

from assistant.store.db import sessionmaker
from casebook.conversations import service as conv_service
from casebook.models import RiskLabel
from tests.casebook.console_helpers import error, path, queued
from tests.conftest import ROOT

pytestmark = pytest.mark.usefixtures("cheap_hashes")


async def test_a_correction_moves_the_queue_and_becomes_labelled_data(gateway, tmp_path):
    _, staff = gateway
    conv = await queued("critical", text_="배고파 죽겠다 ㅋㅋ 점심 뭐 먹지")
    kim = await staff("kim")
    assert (await kim.post(path(conv, "claim"))).status == 200
    body = await kim.json("POST", path(conv, "risk"), {"level": "low", "categories": []})
    assert body == {"risk": "low", "categories": []}
    async with sessionmaker()() as s:
        c = await conv_service.get_conversation(s, conv)
        assert c.risk == "low"
        label = (await s.scalars(select(RiskLabel).where(RiskLabel.conversation_id == c.id))).one()
        assert label.text == "배고파 죽겠다 ㅋㅋ 점심 뭐 먹지" and label.was["level"] == "critical"
        raw = (await s.execute(text("SELECT text FROM risk_labels"))).scalar_one()
        assert "배고파" not in raw  # encrypted at rest
    out = tmp_path / "labels.jsonl"
    done = subprocess.run([sys.executable, "-m", "assistant.cli", "risk", "labels", "export", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_mode & 0o077 == 0  # readable by its owner only
    exported = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert exported == [{"id": f"label-{label.id}", "context": [], "text": "배고파 죽겠다 ㅋㅋ 점심 뭐 먹지",
                         "categories": [], "level": "low", "was": {"level": "critical", "categories": []}}]


async def test_bad_corrections_are_refused_and_change_nothing(gateway):
    _, staff = gateway
    conv = await queued("high")
    kim, lee = await staff("kim"), await staff("lee")
    assert (await kim.post(path(conv, "claim"))).status == 200
    for body, code in (({"level": "extreme"}, "invalid_level"), ({"level": "low", "categories": ["war"]},
                                                                  "invalid_categories"),
                       ({"level": "low", "categories": "danger"}, "invalid_categories")):
        resp = await kim.post(path(conv, "risk"), body)
        assert resp.status == 400 and await error(resp) == code
    resp = await lee.post(path(conv, "risk"), {"level": "none", "categories": []})  # not lee's conversation
    assert resp.status == 403
    async with sessionmaker()() as s:
        assert (await conv_service.get_conversation(s, conv)).risk == "high"
        assert (await s.scalars(select(RiskLabel))).first() is None
