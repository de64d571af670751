"""The deterministic safety screen: obfuscated crisis text is caught, everyday talk is not."""
import pytest

from assistant.safety.screen import Lexicon, compact, screen

CRISIS = [
    ("살려주세요", "danger"),
    ("살 려 주 세 요", "danger"),
    ("살.려.줘", "danger"),
    ("ㅅㄹㅈㅅㅇ", "danger"),
    ("살려즈세요 제발", "danger"),
    ("방에 갇혀 있어요", "danger"),
    ("문을밖에서잠갔어요 못나가요", "danger"),
    ("help me 갇혔어요", "danger"),
    ("ＳＯＳ", "danger"),
    ("사장이 때려요 지금", "danger"),
    ("신고하면 죽인다고 협박해요", "danger"),
    ("죽고 싶어", "self_harm"),
    ("ㅈㅜㄱㄱㅗ ㅅㅣㅍㅇㅓ", "self_harm"),
    ("죽고십어요", "self_harm"),
    ("죽고싶다ㅠㅠㅠㅠ", "self_harm"),
    ("다 끝내고 싶다", "self_harm"),
    ("사라지고 싶어요", "self_harm"),
    ("자해했어요", "self_harm"),
    ("피가 안 멈춰요", "medical"),
    ("친구가 의식이 없어요", "medical"),
    ("여권을 뺏겼어요", "exploitation"),
    ("선불금 때문에 못 그만두게 해요", "exploitation"),
]

ORDINARY = [
    "안녕하세요",
    "배고파 죽겠다",
    "웃겨 죽겠네 ㅋㅋ",
    "경찰 조사 받으면 저도 처벌받아요?",
    "선불금 갚아야 하나요",
    "센터 몇 시까지 해요?",
    "쉼터에 들어가고 싶어요",
    "협박죄로 고소할 수 있나요?",
    "자살예방 상담 전화번호 알려주세요",
    "ㅋㅋㅋㅋㅋ",
    "ㄱㅅ",
    "인스타에 이상한 광고가 있어서 신고하고 싶어요",
]


@pytest.mark.parametrize("text,category", CRISIS)
def test_crisis_text_is_caught_whatever_its_disguise(text, category):
    result = screen(text)
    assert category in result.categories, (text, result.hits)
    assert result.risk in ("high", "critical")


@pytest.mark.parametrize("text", ORDINARY)
def test_everyday_text_raises_nothing(text):
    result = screen(text)
    assert result.risk == "none", (text, result.hits)


def test_immediate_danger_and_self_harm_are_critical_exploitation_high():
    assert screen("갇혀 있어요").risk == "critical"
    assert screen("죽고 싶어").risk == "critical"
    assert screen("여권을 뺏겼어요").risk == "high"


def test_compact_form():
    assert compact("살 려 주 세 요ㅠㅠ!!") == "살려주세요ㅠ"
    assert compact("\u200b죽\u200d고") == "죽고"  # zero-width characters inserted between syllables


def test_lexicon_is_validated():
    with pytest.raises(ValueError):
        Lexicon({"categories": {"nonsense": {"risk": "critical", "phrases": ["도와"]}}})
    with pytest.raises(ValueError):
        Lexicon({"categories": {"danger": {"risk": "extreme", "phrases": ["갇혀"]}}})
    with pytest.raises(ValueError):
        Lexicon({"categories": {"danger": {"risk": "critical", "phrases": ["a"]}}})


def test_exceptions_only_cut_their_own_words():
    lex = Lexicon({"categories": {"danger": {"risk": "critical", "phrases": ["협박"], "except": ["협박죄"]}}})
    assert not lex.screen("협박죄 성립하나요").alarmed
    assert lex.screen("협박죄 말고요, 지금 협박당하고 있어요").alarmed
