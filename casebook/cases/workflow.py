"""The centre's case-management workflow (2025 report, 성매매 피해여성 사례관리 체계) as data.

Steps, the moves allowed between them and what each move must record live here and nowhere else:
the service layer looks a move up in TRANSITIONS and refuses anything that is not there, so a new
step or move is an edit to this table, not new `if`s elsewhere.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# Step code -> Korean label, in workflow order.
STEPS: dict[str, str] = {
    "intake": "접수",
    "eligibility": "사례판정",
    "assessment": "초기상담·욕구사정",
    "planning": "개입계획",
    "service": "서비스 실행",
    "monitoring": "모니터링·평가",
    "closed": "종결",
    "aftercare": "사후관리",
}
OPEN_STEPS = ("intake", "eligibility", "assessment", "planning", "service", "monitoring")
ENDED_STEPS = ("closed", "aftercare")

ROUTES: dict[str, str] = {"online": "온라인 채널", "phone": "전화", "visit": "방문", "referral": "기관 의뢰"}
SUPPORT_LEVELS: dict[str, str] = {"urgent": "긴급", "intensive": "집중", "general": "일반"}
SERVICE_KINDS: dict[str, str] = {
    "emotional": "정서적지원",
    "legal": "법률지원",
    "medical": "의료지원",
    "psych": "심리지원",
    "linkage": "기관연계",
    "selfhelp": "자활지원",
    "material": "물적지원",
    "group": "집단프로그램",
}
# These name the partner organisation (법률지원단, 의료지원단, the agency linked to).
PARTNER_KINDS = ("linkage", "legal", "medical")
CLOSE_REASONS: dict[str, str] = {
    "goals_met": "목표 달성",
    "not_eligible": "지원 대상 아님",
    "referred": "타기관 의뢰",
    "declined": "본인 중단 요청",
    "no_contact": "연락 두절",
    "other": "기타",
}
ENTRY_KINDS: dict[str, str] = {"note": "상담 메모", "referral": "의뢰", "incident": "피해 사건"}
FOLLOW_UP_MONTHS = (3, 6)


@dataclass(frozen=True)
class Transition:
    """A move from one step to another: its name and the fields its `data` must carry."""

    name: str
    label: str
    required: tuple[str, ...] = ()
    # Codes a field must come from (e.g. support_level must be one of SUPPORT_LEVELS).
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)


_CLOSE = Transition("close", "종결", ("reason",), {"reason": tuple(CLOSE_REASONS)})
_REOPEN = Transition("reopen", "재개", ("reason",))

TRANSITIONS: dict[tuple[str, str], Transition] = {
    ("intake", "eligibility"): Transition("decide", "사례판정", ("eligible", "reason")),
    ("eligibility", "assessment"): Transition("assess", "초기상담 시작"),
    ("eligibility", "closed"): _CLOSE,
    ("assessment", "planning"): Transition(
        "plan", "개입계획 수립", ("consent_date", "consent_scope", "needs", "support_level"),
        {"support_level": tuple(SUPPORT_LEVELS)}),
    ("assessment", "closed"): _CLOSE,
    ("planning", "service"): Transition("start_services", "서비스 실행", ("goals",)),
    ("planning", "closed"): _CLOSE,
    ("service", "monitoring"): Transition("monitor", "모니터링·평가", ("review",)),
    ("service", "closed"): _CLOSE,
    # 재시정 / 2차 계획: back to services or to a new plan.
    ("monitoring", "service"): Transition("continue", "서비스 계속"),
    ("monitoring", "planning"): Transition("replan", "2차 계획"),
    ("monitoring", "closed"): _CLOSE,
    ("closed", "aftercare"): Transition("aftercare", "사후관리 시작"),
    # Reopening is possible from a closed case and from aftercare, and is recorded as such.
    ("closed", "assessment"): _REOPEN,
    ("aftercare", "assessment"): _REOPEN,
}


class TransitionError(ValueError):
    """A refused move: `reason` names it (casebook.cases.errors has the Korean text), `params` fill it in."""

    def __init__(self, reason: str, missing: tuple[str, ...] = (), **params: str):
        super().__init__(reason)
        self.reason, self.missing, self.params = reason, missing, params


def allowed_moves(step: str) -> list[tuple[str, Transition]]:
    return [(to, t) for (frm, to), t in TRANSITIONS.items() if frm == step]


def check(from_step: str, to_step: str, data: dict) -> Transition:
    """The transition for this move if it is allowed and `data` has what it needs; else TransitionError."""
    transition = TRANSITIONS.get((from_step, to_step))
    if transition is None:
        raise TransitionError("no_such_move", frm=STEPS.get(from_step, from_step), to=STEPS.get(to_step, to_step))
    missing = tuple(f for f in transition.required if data.get(f) in (None, "", []))
    if missing:
        raise TransitionError("missing_fields", missing, label=transition.label, fields=", ".join(missing))
    for name, codes in transition.choices.items():
        if data.get(name) not in codes:
            raise TransitionError("bad_choice", label=transition.label, name=name)
    return transition
