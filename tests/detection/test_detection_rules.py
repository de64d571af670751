"""The staff-editable lexicon: hits with original spans, indicators, validation and hot reload."""
import os
import shutil

import pytest

from detection.classifier import rules as rules_mod
from detection.classifier.normalise import normalise
from detection.classifier.rules import LEXICON_PATH, LexiconError, RuleBook, load_lexicon, parse_lexicon

AD = ("오늘 밤 ㅈㄱ 하실 분 강남 17살 숏 13 롱 25 카톡: mimi22 ☎010-1234-5678 t.me/abc_1 "
      "open.kakao.com/o/sAbC12 라인 id soft77 https://x.example.com/a")


def test_hits_and_indicators_point_at_the_original_text():
    r = RuleBook().apply(normalise(AD))
    rules = {h.rule: h for h in r.hits}
    assert AD[slice(*rules["outcall.conditional"].span)] == "ㅈㄱ 하실"
    assert "youth.age_words" in rules
    assert [p["value"] for p in r.indicators["price"]] == ["13", "25"]
    assert r.indicators["age"][0]["minor"] is True
    kinds = {c["kind"]: c["value"] for c in r.indicators["contacts"]}
    assert kinds == {"kakao": "mimi22", "phone": "010-1234-5678", "telegram": "t.me/abc_1",
                     "openchat": "open.kakao.com/o/sabc12", "line": "soft77", "link": "https://x.example.com/a"}
    for c in r.indicators["contacts"]:
        s, e = c["span"]
        assert AD[s:e].lower() == c["value"]


def test_adult_age_is_not_a_minor():
    r = RuleBook().apply(normalise("23살 대학생 만남"))
    assert r.indicators["age"] and not r.minor_age


def _copy(tmp_path):
    p = tmp_path / "lexicon.yml"
    shutil.copy(LEXICON_PATH, p)
    return p


def _touch_later(p):
    st = os.stat(p)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_hot_reload_picks_up_a_new_term(tmp_path, monkeypatch):
    monkeypatch.setattr(rules_mod, "CHECK_EVERY", 0)  # check the mtime on every post, not once a second
    p = _copy(tmp_path)
    book = RuleBook(p)
    assert not [h for h in book.apply(normalise("뽀송이 환영")).hits if h.rule == "venue.new"]
    text = p.read_text(encoding="utf-8").replace(
        "rules:\n", "rules:\n  - id: venue.new\n    category: venue\n    weight: 2\n    terms: [뽀송이]\n", 1)
    p.write_text(text, encoding="utf-8")
    _touch_later(p)
    hits = [h for h in book.apply(normalise("뽀 송 이 환영")).hits if h.rule == "venue.new"]
    assert hits and hits[0].text == "뽀 송 이"


def test_invalid_yaml_keeps_the_old_rules_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(rules_mod, "CHECK_EVERY", 0)
    p = _copy(tmp_path)
    book = RuleBook(p)
    p.write_text("rules: [\n  - id: broken", encoding="utf-8")
    _touch_later(p)
    r = book.apply(normalise("조건만남 가능"))
    assert any(h.rule == "outcall.conditional" for h in r.hits)  # previous rules still work
    assert book.last_error and "not valid YAML" in book.last_error and str(p) in book.last_error
    with pytest.raises(LexiconError, match="not valid YAML"):
        load_lexicon(p)
    # Fixing the file brings the rules back to life, and clears the error.
    shutil.copy(LEXICON_PATH, p)
    _touch_later(p)
    _touch_later(p)
    assert any(h.rule == "outcall.conditional" for h in book.apply(normalise("조건만남")).hits)
    assert book.last_error is None


@pytest.mark.parametrize("rule,message", [
    ({"id": "x", "category": "escort", "weight": 1, "terms": ["ab"]}, "category 'escort' is not one of"),
    ({"id": "x", "category": "venue", "weight": 0, "terms": ["ab"]}, "weight must be a number"),
    ({"id": "x", "category": "venue", "weight": 1}, "needs a non-empty 'terms'"),
    ({"id": "x", "category": "venue", "weight": 1, "regex": ["(unclosed"]}, "invalid regular expression"),
    ({"id": "x", "category": "venue", "weight": 1, "terms": ["★★"]}, "too short"),
    ({"category": "venue", "weight": 1, "terms": ["ab"]}, "'id' is missing"),
    ({"id": "x", "category": "venue", "weight": 1, "terms": ["ab"], "colour": "red"}, "unknown key"),
])
def test_validation_names_the_rule_and_the_problem(rule, message):
    with pytest.raises(LexiconError, match=message) as e:
        parse_lexicon({"rules": [{"id": "ok", "category": "venue", "weight": 1, "terms": ["ab"]}, rule]}, "t.yml")
    assert "rule #2" in str(e.value)


def test_duplicate_ids_are_rejected():
    rule = {"id": "same", "category": "venue", "weight": 1, "terms": ["ab"]}
    with pytest.raises(LexiconError, match="duplicate id 'same'"):
        parse_lexicon({"rules": [rule, dict(rule)]})
