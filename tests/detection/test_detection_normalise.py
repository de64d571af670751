"""The detection normaliser undoes each disguise and maps every output character back to the original."""
import pytest

from detection.classifier.normalise import normalise

CASES = [  # (obfuscated, what the compact form must contain)
    ("조 건 만 남 해요", "조건만남"),                      # spaces between syllables
    ("조★건.만※남", "조건만남"),                            # symbols between syllables
    ("조\u200b건\u200d만\ufeff남", "조건만남"),             # zero-width / format characters
    ("ㅊㅜㄹㅈㅏㅇ 안마", "출장안마"),                       # loose jamo
    ("ㅊ ㅜ ㄹ ㅈ ㅏ ㅇ", "출장"),                           # jamo typed one at a time with spaces
    ("텔ㄹ ㅔ 아이디", "텔레아이디"),                        # jamo split by a space
    ("즉시 ㄱr능", "즉시가능"),                             # Latin look-alike vowel
    ("무ㅇiㅈr 3ooo만원 77ㅏㅈ1", "무이자3000만원까지"),      # Seoul's example: i, r, o→0, 77=ㄲ, 1=ㅣ
    ("出張안마", "출장안마"),                                # hanja for sound/meaning
    ("ＯＰ ２４시", "op24시"),                              # fullwidth
    ("㉠ㅏ능", "가능"),                                      # circled jamo
    ("ㅈㄱ 가능", "조건가능"),                               # initial-consonant abbreviation
    ("만만만남 💋💋 가능🔥", "만남가능"),                    # repeated characters, emoji
]


@pytest.mark.parametrize("text,expected", CASES)
def test_each_disguise_is_undone(text, expected):
    assert expected in normalise(text).compact.text


@pytest.mark.parametrize("text,_", CASES)
def test_offsets_map_back_to_the_original(text, _):
    n = normalise(text)
    for m in (n.full, n.compact, n.light):
        assert len(m.starts) == len(m.ends) == len(m.text)
        assert all(0 <= s < e <= len(text) for s, e in zip(m.starts, m.ends, strict=True))
        assert m.starts == sorted(m.starts)  # order is kept


def test_span_of_a_term_is_the_exact_original_text():
    text = "오늘 💋 조★건 만 남 가능 010-1234-5678"
    n = normalise(text)
    i = n.compact.text.index("조건만남")
    s, e = n.compact.span(i, i + 4)
    assert text[s:e] == "조★건 만 남"
    j = n.light.text.index("010")
    assert text[slice(*n.light.span(j, j + 13))] == "010-1234-5678"


def test_ordinary_text_is_left_readable():
    n = normalise("오늘 저녁은 김치찌개 먹을까요? 10만원 있어요 ㅋㅋㅋㅋ")
    assert n.text == "오늘 저녁은 김치찌개 먹을까요 10만원 있어요 ㅋ"
    # Digits next to Hangul stay digits; Latin words stay Latin.
    assert normalise("카톡 abc123 연락").compact.text == "카톡abc123연락"
    assert normalise("아이폰 11 프로").compact.text == "아이폰11프로"
