"""Replies as a Kakao SkillResponse (version 2.0): at most 3 outputs of at most 1,000 characters,
at most 10 quick replies, and the `operator` button for Kakao's own 상담직원 연결."""
from __future__ import annotations

from connectors.outbound import split_text

MAX_OUTPUTS = 3
MAX_CHARS = 1000
MAX_QUICK_REPLIES = 10
# No quick-reply label limit is documented (UNVERIFIED); 14 is the documented button label limit,
# which satisfies either reading.
MAX_LABEL = 14
MORE = "…(이어지는 내용은 다음 메시지로 보내 주시면 알려 드릴게요)"

OPERATOR_CARD = {"textCard": {
    "title": "상담직원 연결",
    "description": "카카오톡 상담직원과 1:1 채팅으로 이야기할 수도 있어요.",
    "buttons": [{"action": "operator", "label": "상담직원 연결"}]}}

HOLDING_TEXT = "답변을 준비하고 있어요. 잠시만 기다려 주세요."
NEXT_UTTERANCE_TEXT = ("답변을 준비하고 있어요. 잠시 뒤 아무 말이나 보내 주시면 이어서 알려 드릴게요.\n"
                       "지금 위험하면 바로 112에 전화하세요.")
RECEIVED_TEXT = "메시지를 받았어요. 상담원이 이어서 답할게요."


def simple_text(text: str) -> dict:
    return {"simpleText": {"text": text}}


def skill_response(replies: list[dict], operator: bool = False) -> tuple[dict, int]:
    """Render as many replies as fit, in order. Returns (SkillResponse, number of replies rendered);
    the rest wait for the next response."""
    budget = MAX_OUTPUTS - (1 if operator else 0)
    outputs: list[dict] = []
    quick: list[dict] = []
    fitted = 0
    for reply in replies:
        chunks = [c for c in split_text(reply.get("text") or "", MAX_CHARS) if c]
        if len(outputs) + len(chunks) > budget:
            if fitted:
                break
            # One reply longer than a whole response: send what fits and say how to get the rest.
            chunks = chunks[:budget]
            chunks[-1] = chunks[-1][:MAX_CHARS - len(MORE)] + MORE
        outputs += [simple_text(c) for c in chunks]
        quick += [_quick_reply(b) for b in reply.get("buttons") or [] if b.get("title")]
        fitted += 1
    if not outputs:
        outputs = [simple_text(RECEIVED_TEXT)]
    if operator:
        outputs.append(OPERATOR_CARD)
    template: dict = {"outputs": outputs}
    unique: dict[str, dict] = {}
    for q in quick:  # the first reply with a label wins
        unique.setdefault(q["label"], q)
    quick = list(unique.values())[:MAX_QUICK_REPLIES]
    if quick:
        template["quickReplies"] = quick
    return {"version": "2.0", "template": template}, fitted


def _quick_reply(button: dict) -> dict:
    title = str(button["title"])
    # The person's tap sends `messageText` as the utterance; our payload comes back in action.clientExtra.
    return {"action": "message", "label": title[:MAX_LABEL], "messageText": title,
            "extra": {"payload": str(button.get("payload") or title)}}


def use_callback(text: str = HOLDING_TEXT) -> dict:
    # No template with useCallback (K2: "template 필드는 입력하지 않습니다").
    return {"version": "2.0", "useCallback": True, "data": {"text": text}}
