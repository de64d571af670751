"""The fixed texts per language (assistant/safety/texts/<lang>.yml): the same keys as the Korean source,
no number the Korean or the fact sheet lacks, and every emergency reply in another language carries its
number and the 24-hour interpretation line (1577-1366)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from assistant.core.languages import SERVED
from assistant.safety import emergency
from assistant.safety.texts import TEXTS
from tests.conftest import ROOT

FACTS = (ROOT.parent / "shared" / "reference" / "kb-facts.md")
NUMBER = re.compile(r"#?\d+(?:[-:]\d+)*")
FOREIGN = [lang for lang in SERVED if lang != "ko"]
# The number each crisis needs (assistant/safety/risk/evaluate.py NUMBERS).
NEEDS = {"danger": "112", "self_harm": "109", "medical": "119", "minor": "1388", "exploitation": "112"}


def strings(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return []


def keys(node, prefix="") -> set[str]:
    if isinstance(node, dict):
        return {k for key, v in node.items() for k in keys(v, f"{prefix}{key}.")} | {prefix.rstrip(".")} - {""}
    return {prefix.rstrip(".")}


def load(lang: str) -> dict:
    return yaml.safe_load((TEXTS / f"{lang}.yml").read_text(encoding="utf-8"))


def test_every_served_language_has_its_file():
    assert {p.stem for p in Path(TEXTS).glob("*.yml")} == set(SERVED)


@pytest.mark.parametrize("lang", FOREIGN)
def test_a_translation_has_every_key_of_the_korean(lang):
    assert keys(load(lang)) == keys(load("ko"))
    assert len(load(lang)["privacy"]["items"]) == len(load("ko")["privacy"]["items"])


def invented(texts: list[str]) -> set[str]:
    """The numbers in `texts` that neither the Korean source nor the fact sheet has."""
    if not FACTS.exists():
        pytest.fail(f"{FACTS} is missing: the fact sheet is what numbers are checked against")
    allowed = set(NUMBER.findall(" ".join(strings(load("ko"))) + " " + FACTS.read_text(encoding="utf-8")))
    return {n for s in texts for n in NUMBER.findall(s) if n not in allowed}


@pytest.mark.parametrize("lang", FOREIGN)
def test_a_translation_adds_no_number(lang):
    """Every number (phone numbers, articles of law, #1388) appears in the Korean source or the fact sheet."""
    texts = strings(load(lang))
    assert any(NUMBER.search(s) for s in texts), "a translation without any number cannot be right"
    assert invented(texts) == set()


def test_the_number_check_catches_an_invented_number():
    assert invented(["Call 1588-1234 or 112"]) == {"1588-1234"}
    assert invented(["Article 99"]) == {"99"}


@pytest.mark.parametrize("lang", FOREIGN)
@pytest.mark.parametrize("category", list(NEEDS))
def test_each_emergency_reply_in_each_language_has_its_number_and_1577_1366(lang, category):
    replies = emergency.screen_replies([category], lang)
    body = replies[0]["text"]
    assert NEEDS[category] in body and "1577-1366" in body and "02-814-3660" in body
    assert body != emergency.screen_replies([category])[0]["text"]  # not the Korean
    assert replies[1]["buttons"][0]["payload"] == "/request_counsellor"


def test_korean_replies_are_as_before_without_the_interpretation_line():
    body = emergency.screen_replies(["danger"])[0]["text"]
    assert body.startswith("지금 위험하면 바로 112에 전화하세요.") and "1577-1366" not in body


def test_a_language_not_served_gets_english_and_the_korean_text():
    body = emergency.screen_replies(["danger"], "ja")[0]["text"]
    assert "If you are in danger now, call 112" in body and "지금 위험하면 바로 112" in body and "1577-1366" in body


@pytest.mark.parametrize("lang", FOREIGN)
def test_the_notes_in_each_language(lang, env):
    env(DASI_CENTRE_HOURS="mon-fri 09:00-18:00")
    note = emergency.counsellor_will_answer(lang)
    assert "09:00-18:00" in note and "1577-1366" in note and "112" in note and "mon-fri" not in note
    for text in (emergency.holding_text(lang), emergency.fallback_text(lang), emergency.rate_limited_text(lang)):
        assert "112" in text and "109" in text
    assert "112" in emergency.welcome_text(lang) and "/privacy" in emergency.welcome_text(lang)
