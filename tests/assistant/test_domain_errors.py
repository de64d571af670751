"""Every refusal code raised in the code has its Korean text: a code without one would reach a person as
the generic "처리할 수 없는 요청이에요." instead of saying what to fix."""
from __future__ import annotations

import re

from assistant.core.errors import GENERIC, DomainError
from casebook.cases.errors import MESSAGES as CASE_MESSAGES
from casebook.cases.errors import CaseError, bad_input
from detection.pipeline.reports import ReportError
from detection.review.service import ReviewError
from tests.conftest import ROOT


def _source(*folders: str) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for f in folders for p in (ROOT / f).rglob("*.py"))


def test_every_case_refusal_reason_has_its_korean_text():
    src = _source("casebook")
    used = set(re.findall(r'bad_input\([^,()]+, "([a-z_]+)"', src))
    used |= set(re.findall(r'CaseError\(\d+, "[a-z_]+", "([a-z_]+)"', src))
    used |= set(re.findall(r'denied\((?:[^()]|\([^()]*\))*?"([a-z_]+)"\)', src))
    used |= set(re.findall(r'refused\("([a-z_]+)"', src))
    used |= set(re.findall(r'TransitionError\("([a-z_]+)"', src))
    assert len(used) > 40 and used <= set(CASE_MESSAGES), sorted(used - set(CASE_MESSAGES))


def test_detection_refusal_codes_have_their_korean_text():
    src = _source("detection")
    for cls in (ReviewError, ReportError):
        used = set(re.findall(rf'{cls.__name__}\("([a-z_]+)"', src))
        assert used and used <= set(cls.MESSAGES), (cls.__name__, sorted(used - set(cls.MESSAGES)))


def test_the_message_is_looked_up_by_code_and_filled_in():
    err = bad_input("route", "one_of", choices="online, phone")
    assert (err.code, err.status) == ("invalid_route", 400)
    assert err.message == "'route' 항목은 online, phone 중 하나여야 해요."
    assert isinstance(err, DomainError) and isinstance(err, CaseError)
    assert ReportError("not_draft", state="submitted").message == \
        "이미 처리된 신고서예요 (상태: submitted). 목록을 새로 고쳐 주세요."
    assert ReviewError("not_found", status=404).http_status == 404
    assert ReviewError("no-such-code").message == GENERIC
