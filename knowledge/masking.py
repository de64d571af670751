"""Personal data masked out of a person's message before any of it leaves the machine (the LLM).

Each kind (phones, e-mail, resident and passport numbers, accounts, messenger ids, links, street
addresses, names) becomes a typed placeholder ("[전화번호]", "[이름]", …) so the question keeps its
meaning. Masking errs towards hiding: a missed phone number is worse than a masked street name. It
leaves alone what questions about help are made of: short hotline numbers (112, 1366, 1577-1366),
amounts ("선불금 300만원"), ages, dates and law articles ("제10조 제2호").

Patterns are regular expressions: no maintained library knows Korean resident numbers, accounts,
addresses or messenger ids. Names use kiwipiepy (already the index's tokenizer), which tags given
names as proper nouns, on top of phrases that introduce a name.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from assistant.core.hangul import nfkc
from knowledge.korean import kiwi

PHONE = "[전화번호]"
EMAIL = "[이메일]"
RRN = "[주민등록번호]"
PASSPORT = "[여권번호]"
ACCOUNT = "[계좌번호]"
HANDLE = "[계정]"
OPEN_CHAT = "[오픈채팅]"
URL = "[링크]"
ADDRESS = "[주소]"
NAME = "[이름]"

# ── contact data ────────────────────────────────────────────────────────────────────────────────
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"'가-힣]+"
    r"|(?<![A-Za-z0-9@.])(?:[A-Za-z0-9-]+\.)+(?:com|net|org|kr|me|ly|io|co|gl|gg|app|link|to|so|page|site|xyz|info|biz)"
    r"(?:/[^\s<>\"'가-힣]*)?(?![A-Za-z0-9.])", re.IGNORECASE)
_OPEN_CHAT_HOSTS = ("open.kakao.com", "t.me/", "telegram.me", "line.me")
# Birth date (YYMMDD), the gender digit, then six digits (or their masked form).
_RRN = re.compile(r"(?<!\d)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\s?-?\s?[1-8](?:\d{6}|[*xX●○]{6})(?!\d)")
_PASSPORT = re.compile(r"(?<![A-Za-z0-9])[A-Z]{1,2}\d{7,8}(?![A-Za-z0-9])")  # Korean and most others
_PHONES = (
    re.compile(r"(?<![\w+])\+\d(?:[ .\-()]{0,2}\d){6,14}(?!\d)"),  # international (+82 10 …)
    re.compile(r"(?<!\d)82[ .-]?1[016789][ .-]?\d{3,4}[ .-]?\d{4}(?!\d)"),  # 82 without the plus
    re.compile(r"(?<!\d)\(?01[016789](?:[ .-]|\)\s?)?\d{3,4}[ .-]?\d{4}(?!\d)"),  # mobile
    re.compile(r"(?<![\d(])\(?0(?:2|3[1-3]|4[1-4]|5[1-5]|6[1-4])\)?[ .-]?\d{3,4}[ .-]?\d{4}(?!\d)"),  # landline
    re.compile(r"(?<!\d)0(?:70|50\d?|80)[ .-]?\d{3,4}[ .-]?\d{4}(?!\d)"),  # internet, safe and 080 numbers
)
# Account-like: dashed groups of 10+ digits, a bare run of 10+ digits that is not an amount, or
# digits (spaces allowed) right after the word for an account.
_DASHED_DIGITS = re.compile(r"(?<![\d-])\d{2,6}(?:-\d{1,8}){1,4}(?![\d-])")
_LONG_DIGITS = re.compile(r"(?<!\d)\d{10,20}(?!\d)(?!\s?(?:원|만|억|천|달러|엔|위안|동|바트))")
_ACCOUNT_WORD = re.compile(r"(?:계좌|통장|은행|뱅크)(?:번호)?\s*(?:는|은|:|=)?\s*(\d[\d -]{6,}\d)"
                           r"(?!\d|\s?(?:원|만|억|천))")

_PLATFORMS = ("카카오톡|카톡|카카오|텔레그램|텔레|텔그|인스타그램|인스타|라인|트위터|페이스북|페북|틱톡|위챗|"
              "디스코드|디코|스냅챗|왓츠앱|스카이프|잘로|스레드")
_ID = r"@?[A-Za-z0-9][A-Za-z0-9._-]{2,31}(?![A-Za-z0-9._-])"
_MESSENGER_ID = re.compile(
    rf"(?:(?:{_PLATFORMS})\s*(?:(?:아이디|아디|ID|id|Id|계정|닉네임|닉)\s*)?|(?:아이디|아디|ID|계정)\s*)"
    rf"(?:는|은|도|:|=)?\s*({_ID})")
_HANDLE = re.compile(r"(?<![\w.@])@[A-Za-z0-9_][A-Za-z0-9_.]{1,29}")

# ── addresses ───────────────────────────────────────────────────────────────────────────────────
_NOT_DISTRICTS = {"친구", "가구", "도구", "연구", "요구", "입구", "출구", "창구", "비상구", "지구", "야구",
                  "농구", "축구", "배구", "탁구", "장군", "아군", "적군", "국군", "해군", "공군", "육군"}
_CITY = r"[가-힣]{2,8}(?:특별시|광역시|특별자치시|특별자치도|시|도)"
_DISTRICT = r"(?P<district>[가-힣]{1,5}(?:구|군))"
_ROAD = r"[가-힣0-9]{1,12}(?:대로|로|길)"
_ADDRESSES = (
    # 서울시 관악구 신림로 123 / 관악구 봉천동 12-3
    re.compile(rf"(?:{_CITY}\s*)?{_DISTRICT}\s+(?:{_ROAD}|[가-힣0-9]{{1,8}}(?:동|읍|면|리))\s*\d{{1,5}}(?:-\d{{1,5}})?"
               rf"(?:\s*번지)?(?![\d만원살년시분개명])"),
    # 봉천로12길 34 / 신림로25번길 10
    re.compile(r"[가-힣]{1,10}(?:대로|로)\s*\d{1,4}(?:번)?길\s*\d{1,5}(?:-\d{1,5})?"),
    # 신림동 123-45 / 봉천동 12번지
    re.compile(r"[가-힣]{1,6}동\s*\d{1,5}(?:-\d{1,5}\s*(?:번지)?|\s*번지)"),
    # 101동 1203호 / 302호 (not 제2호 of a law, not a subway line)
    re.compile(r"(?<!\d)\d{1,4}\s*동\s*\d{1,5}\s*호|(?<![제\d])\d{3,5}\s?호(?![선차])"),
)

# ── names ───────────────────────────────────────────────────────────────────────────────────────
_SURNAMES = set("김이박최정강조윤장임한오서신권황안송류유전홍고문양손배백허남심노하곽성차주우구민진지엄채원천방"
                "공현함변염여추도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용예봉경사부가복태목형피두감")
# Proper nouns Kiwi knows that are places, not people.
_NOT_NAMES = {"서울", "부산", "대구", "인천", "광주", "대전", "울산", "세종", "경기", "강원", "충북", "충남", "전북",
              "전남", "경북", "경남", "제주", "한국", "중국", "일본", "미국", "베트남", "태국", "필리핀", "러시아",
              "캄보디아", "우즈벡", "몽골", "라오스", "네팔", "신림", "관악", "동작", "강남", "영등포", "카톡", "텔레"}
# Endings after a name ("김민지예요", "민지라고", "민지님"), longest first.
_ENDINGS = ("이라고요", "이라구요", "이라고", "이라구", "라고요", "라구요", "라고", "라구", "이에요", "이예요",
            "입니다",
            "이고요", "이구요", "인데요", "이거든요", "이거든", "예요", "에요", "이고", "이구", "인데", "이야", "이요",
            "이며", "임", "야", "요")
_INTRODUCED = re.compile(r"(?:이름|성함|본명|실명|닉네임)(?:은|는|이|:)?\s*"
                         r"(?P<x>[가-힣]+|[A-Za-z][A-Za-z'-]+(?: [A-Za-z][A-Za-z'-]+)?)")
_SELF = re.compile(r"(?:(?<=\s)|^)(?:저는|전|저|나는|난|나|제가|내가)\s+(?P<x>[가-힣]+)")
_CALLED = re.compile(r"(?P<x>[가-힣]{2,6})라고\s*(?:해요|합니다|하고|해|하는|하구|불러|부르|해용)")
_HONORIFIC = re.compile(r"(?P<x>[가-힣]{2,6})\s?(?:씨|님)"
                        r"(?=$|[^가-힣]|이|가|은|는|을|를|도|랑|한테|께|에게|의|처럼|하고|예요|인데|이랑|아|요)")


def _strip_ending(word: str) -> tuple[str, bool]:
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) > len(ending):
            return word[: -len(ending)], True
    return word, False


def _looks_like_name(word: str, introduced: bool = False) -> bool:
    """A given or full name: a proper noun to Kiwi, or three syllables after a common surname that
    Kiwi cannot read as one ordinary word. After "제 이름은", any noun counts."""
    if not 2 <= len(word) <= 4 or word in _NOT_NAMES:
        return False
    tokens = kiwi().tokenize(word)
    if introduced:  # nouns only: "이름은 비밀이에요" is masked, "실명이 필요해요" is not
        return bool(tokens) and all(t.tag.startswith(("NNG", "NNP", "SL", "XR")) for t in tokens)
    if len(tokens) == 1:
        return tokens[0].tag == "NNP"
    return len(word) == 3 and word[0] in _SURNAMES and tokens[0].tag.startswith("NN")


def _mask_names(text: str) -> str:
    spans: list[tuple[int, int]] = []

    def add(start: int, word: str) -> None:
        spans.append((start, start + len(word)))

    for m in _INTRODUCED.finditer(text):
        x = m.group("x")
        if x[0].isascii():
            add(m.start("x"), x)
            continue
        name, _ = _strip_ending(x)
        if _looks_like_name(name, introduced=True):
            add(m.start("x"), name)
    for m in _SELF.finditer(text):
        name, ended = _strip_ending(m.group("x"))
        if ended and _looks_like_name(name):
            add(m.start("x"), name)
    for m in _CALLED.finditer(text):
        word = m.group("x")
        word = word[:-1] if word.endswith("이") and len(word) > 2 else word
        _mask_tail(word, m.start("x"), add)
    for m in _HONORIFIC.finditer(text):
        _mask_tail(m.group("x"), m.start("x"), add)
    out, last = [], 0
    for start, end in sorted(set(spans)):
        if start < last:
            continue
        out += [text[last:start], NAME]
        last = end
    return "".join(out) + text[last:]


def _mask_tail(word: str, start: int, add: Callable[[int, str], None]) -> None:
    """Words run together ("그래서민지씨"): the longest ending of the run that is a name. A run that
    is one ordinary word ("마이킹", "사장") is left whole."""
    tokens = kiwi().tokenize(word)
    if len(tokens) == 1 and tokens[0].tag != "NNP":
        return
    for size in range(min(4, len(word)), 1, -1):
        tail = word[-size:]
        if _looks_like_name(tail):
            add(start + len(word) - size, tail)
            return


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def _sub_group(pattern: re.Pattern[str], placeholder: str, text: str, min_digits: int = 0) -> str:
    def repl(m: re.Match[str]) -> str:
        if _digits(m.group(1)) < min_digits:
            return m.group(0)
        return m.group(0)[: m.start(1) - m.start()] + placeholder + m.group(0)[m.end(1) - m.start():]
    return pattern.sub(repl, text)


def _mask_url(m: re.Match[str]) -> str:
    url = m.group(0)
    trail = len(url) - len(url.rstrip(".,!?)]}~"))
    url, rest = url[: len(url) - trail], url[len(url) - trail:]
    return (OPEN_CHAT if any(h in url.lower() for h in _OPEN_CHAT_HOSTS) else URL) + rest


def _mask_address(m: re.Match[str]) -> str:
    district = m.groupdict().get("district")
    if district and district in _NOT_DISTRICTS:
        return m.group(0)
    return ADDRESS


def mask_personal_data(text: str) -> str:
    """The text with personal data replaced by typed placeholders."""
    text = nfkc(text)
    text = _EMAIL.sub(EMAIL, text)
    text = _URL.sub(_mask_url, text)
    text = _RRN.sub(RRN, text)
    text = _PASSPORT.sub(PASSPORT, text)
    for pattern in _PHONES:
        text = pattern.sub(PHONE, text)
    text = _sub_group(_ACCOUNT_WORD, ACCOUNT, text, min_digits=10)
    text = _DASHED_DIGITS.sub(lambda m: ACCOUNT if _digits(m.group(0)) >= 10 else m.group(0), text)
    text = _LONG_DIGITS.sub(ACCOUNT, text)
    text = _sub_group(_MESSENGER_ID, HANDLE, text)
    text = _HANDLE.sub(HANDLE, text)
    for pattern in _ADDRESSES:
        text = pattern.sub(_mask_address, text)
    return _mask_names(text)
