"""How long a counsellor can still reply on each channel, counted from the person's last message.

Meta (Instagram, Messenger): 24 hours for any reply; after that, up to 7 days only for a human
reply tagged HUMAN_AGENT (never for the bot). Kakao: a reply reaches the person with their next
message (or through the one-minute callback). Web chat and X DMs have no window.
"""
from __future__ import annotations

from datetime import datetime, timedelta

META = ("instagram", "messenger")
STANDARD = timedelta(hours=24)
HUMAN_AGENT = timedelta(days=7)


def reply_window(channel: str, last_inbound: datetime | None, now: datetime) -> dict:
    if channel in META:
        if last_inbound is None:
            return {"kind": "closed", "until": None, "note": "상대가 먼저 메시지를 보내야 답할 수 있어요."}
        if now < last_inbound + STANDARD:
            until = last_inbound + STANDARD
            return {"kind": "open", "until": until.isoformat(),
                    "note": "24시간 응답 창이 열려 있어요. 이후 7일까지는 상담원 답장만 보낼 수 있어요."}
        if now < last_inbound + HUMAN_AGENT:
            until = last_inbound + HUMAN_AGENT
            return {"kind": "human_agent", "until": until.isoformat(),
                    "note": "24시간이 지나 상담원 답장(HUMAN_AGENT)으로만 보낼 수 있어요."}
        return {"kind": "closed", "until": None,
                "note": "응답 기간(7일)이 지났어요. 상대가 다시 메시지를 보내야 답할 수 있어요."}
    if channel == "kakao":
        return {"kind": "next_message", "until": None,
                "note": "카카오톡은 상대가 다음 메시지를 보낼 때 답장이 전달돼요."}
    return {"kind": "open", "until": None, "note": "언제든 답할 수 있어요."}
