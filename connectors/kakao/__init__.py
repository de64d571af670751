"""KakaoTalk channel chatbot through a Kakao i Open Builder skill server.

verify (X-Skill-Secret header; Kakao signs nothing) → parse (utterance, clientExtra payload, image
URLs) → the router stores and answers → render (SkillResponse 2.0) → send (in the response, through
the one-time callbackUrl, or on the person's next utterance).
"""
from connectors.kakao.callbacks import KakaoSender, callback_allowed
from connectors.kakao.render import skill_response
from connectors.kakao.webhook import parse, setup

__all__ = ["KakaoSender", "callback_allowed", "parse", "setup", "skill_response"]
