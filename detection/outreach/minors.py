"""Does a youth-flagged post read as written BY a minor (a young person in a 조건만남 situation) rather
than by someone luring minors? Such an author is sent guidance only, never a warning. A heuristic on the
author's own words; staff can mark any account as a minor in the outreach page as well (never unmark)."""
from __future__ import annotations

import re

from assistant.safety.youth_cues import age_of

_SELF = r"(?:저|전|나|난|제가|저는|나는|내가|본인)"
_YOUNG = r"(?:(?:1[0-8]|[1-9])\s*(?:살|세)|[중고][1-3]|중딩|고딩|중학생|고등학생|여중생|여고생|미자|미성년자?)"
_SEEKING = r"(?:환영|구함|구해|구합|찾아|찾습|찾음|모집|가능|만나실|오세요|우대)"
SELF_AGE = re.compile(rf"{_SELF}\s*{_YOUNG}")
_ABOUT_ME = r"(?:인데|이에요|예요|이고|임|입니다|이라|여자|여학생|남자|남학생|여|남)"
AGE_SELF = re.compile(rf"{_YOUNG}\s*{_ABOUT_ME}(?!\s*{_SEEKING})")
RUNAWAY = re.compile(r"가출\s*(?:했|중|해서|한지)|집\s*(?:나왔|나와서|나온\s*지)|재워\s*(?:주실|줄\s*(?:분|사람))")


def believed_minor(text: str) -> bool:
    t = " ".join((text or "").split())
    for m in (*SELF_AGE.finditer(t), *AGE_SELF.finditer(t)):
        age = age_of(m.group(0))
        if age is None or age < 19:
            return True
    return bool(RUNAWAY.search(t))
