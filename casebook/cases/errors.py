"""Refusals of the case service: a stable code for programs, and Korean text looked up by reason.

The console shows `message` as is; `code` (e.g. invalid_route, forbidden, transition_refused) is the API's
error code. `missing` names the fields a workflow move lacks; `denied` (action, record_type, record_id)
marks a permission refusal that the caller audits in a transaction of its own.
"""
from __future__ import annotations

from typing import Any

from assistant.core.errors import DomainError

MESSAGES = {
    # input (code invalid_<field>)
    "required": "'{field}' 항목을 입력해 주세요.",
    "not_text": "'{field}' 항목은 비어 있지 않은 문자열이어야 해요.",
    "not_int": "'{field}' 항목은 {lo}~{hi} 사이의 정수여야 해요.",
    "not_bool": "'{field}' 항목은 true 또는 false여야 해요.",
    "not_object": "'{field}' 항목은 객체여야 해요.",
    "not_number": "'{field}' 항목은 숫자여야 해요.",
    "one_of": "'{field}' 항목은 {choices} 중 하나여야 해요.",
    "unknown_fields": "'{field}'에 알 수 없는 항목이 있어요: {names}",
    "unknown_body_fields": "알 수 없는 항목이 있어요: {names}",
    "date_unreadable": "'{field}' 날짜를 읽을 수 없어요. 2025-03-01 같은 형식으로 써 주세요.",
    "date_type": "'{field}' 항목은 2025-03-01 같은 날짜여야 해요.",
    "date_range": "'{field}' 날짜가 범위를 벗어났어요 (2000년부터 오늘까지).",
    "before_opening": "'{field}' 날짜가 사례 접수일({day})보다 앞서요.",
    "before_last_step": "'{field}' 날짜가 직전 단계({day})보다 앞서요.",
    "before_closing": "'{field}' 날짜가 종결일보다 앞서요.",
    "unknown_step": "알 수 없는 단계예요: {choices} 중 하나여야 해요.",
    "person_shape": "'person' 항목은 {{name, contact, youth}} 객체여야 해요.",
    "contact_fields": "'contact' 항목은 phone, email, other만 가질 수 있어요.",
    "person_or_id": "'person_id'와 'person' 중 하나만 보내 주세요.",
    "person_needed": "'person_id'(기존 사람) 또는 'person'(새 사람)이 필요해요.",
    "no_person": "그런 사람이 없어요.",
    "login_shape": "'login' 항목은 상담원 아이디여야 해요.",
    "no_staff": "그 아이디의 상담원이나 슈퍼바이저를 찾을 수 없어요.",
    "conversation_shape": "'conversation_id' 항목은 대화 id여야 해요.",
    "empty_file": "빈 파일은 올릴 수 없어요.",
    # size (413)
    "text_too_long": "'{field}' 항목은 {max_len}자까지 쓸 수 있어요.",
    "data_too_large": "'data'가 너무 커요 ({max_len}자까지).",
    "file_too_large": "파일은 {mb}MB까지 올릴 수 있어요.",
    # not found (404)
    "no_case": "그런 사례가 없어요.",
    "no_conversation": "그런 대화가 없어요.",
    "no_document": "그런 문서가 없어요.",
    "no_followup": "그런 사후관리 일정이 없어요.",
    # permissions (403)
    "role": "이 계정의 역할로는 사례 기록을 볼 수 없어요.",
    "case_denied": "이 사례를 볼 권한이 없어요. 맡거나 함께 맡은 사례만 볼 수 있어요.",
    "conversation_denied": "이 대화를 볼 권한이 없어요.",
    "person_denied": "이 사람의 기록을 볼 권한이 없어요.",
    "members_denied": "사례를 맡은 상담원이나 슈퍼바이저만 함께할 사람을 정할 수 있어요.",
    "owner_denied": "슈퍼바이저만 담당자를 바꿀 수 있어요.",
    # conflicts (409)
    "conversation_linked": "이 대화는 이미 다른 사람에게 연결되어 있어요.",
    "number_conflict": "사례 번호가 겹쳤어요. 다시 시도해 주세요.",
    "state_changed": "다른 사람이 방금 이 사례의 단계를 바꿨어요. 화면을 새로 고쳐 주세요.",
    "case_closed": "종결된 사례예요. 사후관리를 시작하거나 사례를 재개한 뒤 기록해 주세요.",
    "followup_closed": "이미 완료했거나 취소된 사후관리예요.",
    "referral_needed": "{label}: 의뢰한 기관(referred_to)을 적어 주세요.",
    "no_such_move": "'{frm}' 단계에서 '{to}'(으)로 갈 수 없습니다.",
    "missing_fields": "{label}: 필요한 항목이 비어 있습니다 ({fields}).",
    "bad_choice": "{label}: '{name}' 값이 올바르지 않습니다.",
}


class CaseError(DomainError):
    MESSAGES = MESSAGES

    def __init__(self, status: int, code: str, reason: str, missing: tuple[str, ...] | None = None,
                 denied: tuple[str, str, str] | None = None, **params: Any) -> None:
        super().__init__(code, status=status, **params)
        self.reason, self.missing, self.denied = reason, missing, denied

    @property
    def status(self) -> int:  # type: ignore[override]
        return self.http_status

    @property
    def message(self) -> str:
        return MESSAGES[self.reason].format(**self.params)


def bad_input(field: str, reason: str, **params: Any) -> CaseError:
    return CaseError(400, f"invalid_{field}", reason, field=field, **params)


def denied(action: str, record_type: str, record_id: str, reason: str) -> CaseError:
    return CaseError(403, "forbidden", reason, denied=(action, record_type, record_id))


def refused(reason: str, missing: tuple[str, ...] = (), **params: Any) -> CaseError:
    return CaseError(409, "transition_refused", reason, missing=tuple(missing), **params)
