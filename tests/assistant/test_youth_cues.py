from datetime import date

import pytest

from assistant.safety.youth_cues import age_of, is_minor

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize("text,minor", [
    ("저 17살이에요", True), ("열여섯", True), ("열일곱살인데요", True), ("고2", True), ("중3이에요", True),
    ("미성년자도 돼요?", True), ("09년생", True), ("2009년생이요", True), ("고딩인데", True), ("만 18세", True),
    ("20살", False), ("스무살이에요", False), ("대학생이에요", False), ("24살", False), ("1999년생", False),
    ("선불금 갚아야 돼요?", False),
])
def test_minor_cues(text, minor):
    assert is_minor(text, TODAY) is minor


def test_birth_year_is_counted_from_today():
    assert age_of("08년생", TODAY) == 18 and age_of("08년생", date(2028, 1, 1)) == 20
