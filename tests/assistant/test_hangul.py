from assistant.core.hangul import choseong, compose, decompose, nfkc


def test_decompose_and_compose_round_trip():
    for word in ["죽고 싶어", "살려주세요", "괜찮아요", "닭", "값", "뭐해", "외국인"]:
        assert compose(decompose(word)) == word


def test_loose_jamo_are_composed():
    assert compose("ㅈㅜㄱㄱㅗ ㅅㅣㅍㅇㅓ") == "죽고 싶어"
    assert compose("살ㄹㅕ줘") == "살려줘"
    assert compose("ㄱㅏㄷㅎㅕㅆㅇㅓㅇㅛ") == "갇혔어요"


def test_consonant_only_writing_is_left_alone():
    assert compose("ㅅㄹㅈㅅㅇ ㅋㅋ") == "ㅅㄹㅈㅅㅇ ㅋㅋ"


def test_initial_consonants():
    assert choseong("살려주세요") == "ㅅㄹㅈㅅㅇ"
    assert choseong("ㅇㅋ 고마워") == "ㅇㅋㄱㅁㅇ"


def test_nfkc_keeps_typed_jamo_and_folds_lookalikes():
    assert nfkc("ㅅㄹㅈㅅㅇ") == "ㅅㄹㅈㅅㅇ"
    assert nfkc("ＳＯＳ①") == "SOS1"
    assert compose(nfkc("\u110c\u116e\u11a8")) == "죽"  # conjoining jamo (NFD) compose back
