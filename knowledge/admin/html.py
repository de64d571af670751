"""Shared pieces of the admin pages: escaping, the page frame, Korean labels and error messages.

Pages are built from f-strings: every value that did not come from this file goes through `e()`.
"""
from __future__ import annotations

import html
import re
from datetime import datetime

from aiohttp import web

from assistant.core.clock import KST
from knowledge.articles import ArticleError

STATUS_LABELS = {"published": "게시됨", "draft": "초안", "invalid": "오류"}
ACTION_LABELS = {"create": "생성", "edit": "수정", "publish": "게시", "unpublish": "게시 취소", "revert": "되돌림"}
def e(value: object) -> str:
    return html.escape(str(value), quote=True)


def when(moment: datetime) -> str:
    return moment.astimezone(KST).strftime("%Y-%m-%d %H:%M")


def page(title: str, body: str, *, csrf: str | None = None, status: int = 200, script: bool = False) -> web.Response:
    """The frame of every admin page. `csrf` given means someone is logged in: show the menu."""
    nav = ""
    if csrf is not None:
        nav = (f'<nav><a href="/admin/knowledge">글 목록</a><a href="/admin/knowledge/new">새 글</a>'
               f'<a href="/admin/knowledge/translations">번역</a>'
               f'<form method="post" action="/admin/logout"><input type="hidden" name="csrf" value="{e(csrf)}">'
               f'<button type="submit" class="link">로그아웃</button></form></nav>')
    js = '<script src="/static/admin/admin.js" defer></script>' if script else ""
    text = (f'<!doctype html><html lang="ko"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="robots" content="noindex">'
            f'<title>{e(title)} · dasi 관리</title><link rel="stylesheet" href="/static/admin/admin.css">{js}</head>'
            f'<body><header><a class="brand" href="/admin/knowledge">dasi 지식베이스</a>{nav}</header>'
            f'<main><h1>{e(title)}</h1>{body}</main></body></html>')
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def status_badge(status: str) -> str:
    return f'<span class="badge {e(status)}">{e(STATUS_LABELS.get(status, status))}</span>'


# English validation messages (shared with the CLI) → what staff read. Unknown ones pass through.
_MESSAGES: list[tuple[re.Pattern, str]] = [(re.compile(p), k) for p, k in [
    (r"^front matter must start with '---'$", "첫 줄은 머리말을 여는 '---'이어야 해요."),
    (r"^front matter is not closed with '---'$", "머리말을 닫는 '---' 줄이 없어요."),
    (r"^front matter is not valid YAML: (.*)$", r"머리말 형식(YAML)이 잘못됐어요: \1"),
    (r"^front matter must be a mapping$", "머리말은 '항목: 값' 형태여야 해요."),
    (r"^missing field '(.*)'$", r"'\1' 항목이 없거나 비어 있어요."),
    (r"^id '(.*)' must be lowercase letters, digits and '-'$", r"id는 영어 소문자, 숫자, '-'만 쓸 수 있어요: '\1'"),
    (r"^id '(.*)' does not match the file name '(.*)'$", r"id는 바꿀 수 없어요. 이 글의 파일 이름은 '\2'예요."),
    (r"^category must be one of (.*)$", r"category는 다음 중 하나여야 해요: \1"),
    (r"^audience must be one of (.*)$", r"audience는 다음 중 하나여야 해요: \1"),
    (r"^status must be draft or published$", "status는 draft 또는 published여야 해요."),
    (r"^questions must be a list of strings$", "questions는 '- 질문' 형태의 목록이어야 해요."),
    (r"^sources must be a list of \{title, url\}$", "sources는 title(과 url)이 있는 항목의 목록이어야 해요."),
    (r"^related must be a list of article ids$", "related는 글 id의 목록이어야 해요."),
    (r"^the article has no body$", "본문이 비어 있어요."),
    (r"^related article '(.*)' does not exist$", r"related에 없는 글 id가 있어요: '\1'"),
    (r"^an article with id '(.*)' already exists$", r"같은 id의 글이 이미 있어요: '\1'"),
    (r"^the article is longer than (\d+) characters$", r"글이 너무 길어요. 최대 \1자까지 쓸 수 있어요."),
]]


def korean(exc: ArticleError) -> str:
    for pattern, template in _MESSAGES:
        if pattern.match(exc.message):
            return pattern.sub(template, exc.message)
    return exc.message


def error_item(exc: ArticleError) -> str:
    """A clickable error: admin.js moves the cursor to that line of the editor."""
    return (f'<li><a href="#content" data-line="{exc.line}">{exc.line}번째 줄</a>: {e(korean(exc))}'
            f'<span class="raw">{e(exc.message)}</span></li>')
