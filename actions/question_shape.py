"""Does a message ask something? NLU sometimes files a real question under a non-question intent
(danger, self-harm, a handoff request, youth, "yes", "no"); when it is shaped like a question, the
knowledge answer is added at the normal confidence bar instead of the stricter one used for
small talk. A cheap surface check on purpose: a wrong "yes" only adds a confident article."""
from __future__ import annotations

import re

# Question words anywhere ("어떻게 해야돼요", "어디로 가요").
_WH = re.compile(r"어떻게|어떡|어쩌|뭐|무엇|무슨|어디|언제|왜|누구|누가|얼마|몇|어느")
# Interrogative sentence endings, spaces and trailing sobs/laughs/punctuation/emoji removed first.
_ENDING = re.compile(r"(나요|까요|가요|나여|까여|가여|나용|니까|는지|은지|인지|는가|던가|인가|을까|할까|"
                     r"니|냐|나|죠|지요|"
                     r"래요|을래|되나|되냐|건가|건지|거예요|거에요|거야|거임|가능|맞아요|맞죠|맞나)$")
_TRAILING = re.compile(r"[\sㅠㅜㅋㅎ.,~!…^;:)(\-]+$|[\U0001F300-\U0001FAFF\u2600-\u27BF]+$")


def looks_like_question(text: str) -> bool:
    if "?" in text or "？" in text or _WH.search(text):
        return True
    tail = text.strip()
    while True:  # "되나요ㅠㅠ 😭" → "되나요"
        stripped = _TRAILING.sub("", tail)
        if stripped == tail:
            break
        tail = stripped
    return bool(_ENDING.search(tail))
