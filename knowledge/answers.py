"""Answers composed from articles: what to do now first, fitted to the channel's length limit."""
from __future__ import annotations

import json
import re

from assistant.safety.emergency import COUNSELLOR_BUTTON
from knowledge.articles import Article

# Characters per message a channel shows comfortably (Kakao 1,000; Instagram counts bytes: ~300
# Korean syllables at 3 bytes each; the web chat is kept to a phone screen).
CHANNEL_LIMITS = {"web": 600, "kakao": 1000, "instagram": 320, "messenger": 600, "x": 1000}
_MD = re.compile(r"^#+\s*|\*\*|__|`", re.MULTILINE)


def plain(markdown: str) -> str:
    """Markdown → text a chat bubble can show (headings, bold and code marks removed)."""
    return _MD.sub("", markdown).strip()


def fit(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    # End at a paragraph or line break when one is near, so no sentence stops mid-word.
    for sep in ("\n\n", "\n", ". ", "요. "):
        pos = cut.rfind(sep)
        if pos > limit * 0.5:
            return cut[: pos + len(sep)].rstrip() + " …"
    return cut.rstrip() + "…"


def kb_button(article: Article) -> dict:
    return {"title": article.title, "payload": "/ask_kb" + json.dumps({"article": article.id}, ensure_ascii=False)}


def article_reply(article: Article, related: list[Article], channel: str = "web") -> dict:
    limit = CHANNEL_LIMITS.get(channel, 600)
    source = f"\n\n(출처: {article.title})"
    body = fit(plain(article.body), limit - len(source))
    buttons = [kb_button(r) for r in related[:2]] + [COUNSELLOR_BUTTON]
    return {"text": body + source, "buttons": buttons}


def unknown_reply() -> dict:
    return {"text": "죄송해요, 그건 제가 잘 모르겠어요. 틀린 정보를 드리고 싶지 않아요.\n"
                    "상담원에게 물어보시면 자세히 도와드릴 수 있어요.",
            "buttons": [COUNSELLOR_BUTTON]}
