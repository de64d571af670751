"""Staff pages for the knowledge base at /admin/knowledge: list and search, edit the Markdown with a
preview of the answer on each channel, publish, history with diffs, revert.

The work itself (validation, versions, files, the index) is in knowledge/editing.py; it is
synchronous and runs in a worker thread so the chat keeps answering meanwhile.
"""
from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from assistant.core.clock import KST
from assistant.core.settings import Settings
from assistant.web.appkeys import SETTINGS
from knowledge import editing
from knowledge.admin.auth import author, login_required, redirect, staff
from knowledge.admin.html import ACTION_LABELS, STATUS_LABELS, e, error_item, korean, page, status_badge, when
from knowledge.answers import CHANNEL_LIMITS, article_reply
from knowledge.articles import AUDIENCES, CATEGORIES, STATUSES, Article, ArticleError

CHANNELS = {"web": "웹 채팅", "kakao": "카카오톡", "instagram": "인스타그램"}
ID_ROUTE = r"{article_id:[a-z0-9]+(?:-[a-z0-9]+)*}"
ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
DONE = {
    "create": "새 글을 만들었어요.",
    "edit": "저장했어요.",
    "publish": "게시했어요. 이제 챗봇이 이 글로 답해요.",
    "unpublish": "게시를 취소했어요. 챗봇은 이제 이 글로 답하지 않아요.",
    "revert": "선택한 버전으로 되돌렸어요 (새 버전으로 기록했어요).",
    "none": "바뀐 내용이 없어서 저장하지 않았어요.",
}
INDEX_FAILED = ("파일은 저장했지만 검색 색인을 갱신하지 못했어요. 챗봇 답변에 아직 반영되지 않았을 수 있어요. "
                "운영자에게 `dasi kb reindex` 실행을 부탁하세요.")


async def _run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args, **kwargs))


def _field(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def _settings(request: web.Request) -> Settings:
    return request.app[SETTINGS]


async def _existing_text(request: web.Request) -> str:
    try:
        return await _run(editing.read, _settings(request), request.match_info["article_id"])
    except FileNotFoundError:
        raise web.HTTPNotFound(text="그런 글이 없어요.", content_type="text/plain") from None


# --- list ---------------------------------------------------------------------------------------

def _options(values: tuple[str, ...], chosen: str, labels: dict[str, str] | None = None) -> str:
    return "".join(f'<option value="{e(v)}"{" selected" if v == chosen else ""}>{e((labels or {}).get(v, v))}</option>'
                   for v in values)


@login_required
async def list_page(request: web.Request) -> web.Response:
    q = request.query.get("q", "").strip()[:200]
    status = request.query.get("status", "")
    status = status if status in (*STATUSES, "invalid") else ""
    category = request.query.get("category", "")
    category = category if category in CATEGORIES else ""
    entries = await _run(editing.list_entries, _settings(request))
    found = editing.search_entries(entries, q, status, category)
    rows = []
    for entry in found:
        a = entry.article
        title = a.title if a else korean(entry.error) if entry.error else ""
        rows.append(
            f'<tr><td><a href="/admin/knowledge/{e(entry.id)}/edit">{e(title)}</a>'
            f'<small class="id">{e(entry.id)}</small></td>'
            f'<td>{e(a.category if a else "")}</td><td>{status_badge(entry.status)}</td>'
            f'<td>{e(a.reviewed_at if a else "")}</td>'
            f'<td><a href="/admin/knowledge/{e(entry.id)}/history">기록</a></td></tr>')
    table = (('<table class="list"><thead><tr><th>제목 / id</th><th>분류</th><th>상태</th><th>검토일</th><th></th>'
              f'</tr></thead><tbody>{"".join(rows)}</tbody></table>') if rows
             else '<p class="empty">찾는 글이 없어요.</p>')
    body = (f'<form method="get" action="/admin/knowledge" class="search" role="search">'
            f'<input type="search" name="q" value="{e(q)}" placeholder="제목, id, 분류, 본문 검색" '
            f'aria-label="검색어">'
            f'<select name="status" aria-label="상태"><option value="">모든 상태</option>'
            f'{_options((*STATUSES, "invalid"), status, STATUS_LABELS)}</select>'
            f'<select name="category" aria-label="분류"><option value="">모든 분류</option>'
            f'{_options(CATEGORIES, category)}'
            f'</select><button type="submit">검색</button></form>'
            f'<p class="count">전체 {len(entries)}개 중 {len(found)}개 · '
            f'<a href="/admin/knowledge/new">새 글 쓰기</a></p>'
            f'{table}')
    return page("지식베이스 글", body, csrf=staff(request).csrf)


# --- preview ------------------------------------------------------------------------------------

def _published(settings: Settings) -> dict[str, Article]:
    return {x.id: x.article for x in editing.list_entries(settings) if x.article and x.article.published}


def preview_fragment(settings: Settings, text: str, article_id: str | None) -> str:
    """The answer as each channel would show it, or what is wrong with the text, with line numbers."""
    try:
        article = editing.validate(settings, text, article_id)
    except ArticleError as exc:
        return f'<div class="errors" role="alert"><p>저장할 수 없어요. 고칠 곳:</p><ul>{error_item(exc)}</ul></div>'
    published = _published(settings)
    related = [published[r] for r in article.related if r in published]
    cards = []
    for channel, name in CHANNELS.items():
        reply = article_reply(article, related, channel)
        limit = CHANNEL_LIMITS[channel]
        buttons = "".join(f'<span class="chip">{e(b["title"])}</span>' for b in reply["buttons"])
        cards.append(f'<section class="channel" data-channel="{channel}"><h3>{e(name)} '
                     f'<small>{len(reply["text"])}/{limit}자</small></h3>'
                     f'<div class="bubble">{e(reply["text"])}</div><div class="chips">{buttons}</div></section>')
    note = "" if article.published else '<p class="hint">초안이에요. 게시하기 전에는 챗봇이 이 글로 답하지 않아요.</p>'
    return f'<div class="ok">{note}{"".join(cards)}</div>'


@login_required
async def preview(request: web.Request) -> web.Response:
    form = await request.post()
    article_id = _field(form, "article_id") or None
    if article_id is not None and not ID.match(article_id):
        raise web.HTTPBadRequest(text="글 id가 올바르지 않아요.", content_type="text/plain")
    text = await _run(preview_fragment, _settings(request), _field(form, "content"), article_id)
    return web.Response(text=text, content_type="text/html", charset="utf-8")


# --- editor -------------------------------------------------------------------------------------

def _template(settings: Settings) -> str:
    today = datetime.now(KST).date().isoformat()
    return ("---\nid: \ntitle: \ncategory: centre\naudience: all\nquestions:\n  - \nsources:\n  - title: \n"
            f"    url: \"\"\nreviewed_at: {today}\nstatus: draft\nrelated: []\n---\n"
            "첫 문단에는 지금 할 일을 먼저 써 주세요. 챗봇 답변의 첫머리가 돼요.\n\n## 자세히\n- \n\n"
            f"## 도움받을 곳\n- 다시함께상담센터 {settings.centre_phone}\n")


def _editor(request: web.Request, *, article_id: str | None, text: str, base: str | None, file_status: str,
            preview_html: str, notice: str = "", warning: str = "", extra: str = "", status: int = 200) -> web.Response:
    csrf = staff(request).csrf
    action = f"/admin/knowledge/{article_id}/edit" if article_id else "/admin/knowledge/new"
    if article_id is None:
        buttons = ('<button type="submit" name="op" value="save">초안으로 저장</button>'
                   '<button type="submit" name="op" value="publish" class="primary">저장하고 게시</button>')
    elif file_status == "published":
        buttons = ('<button type="submit" name="op" value="save" class="primary">저장 (바로 반영)</button>'
                   '<button type="submit" name="op" value="unpublish" data-confirm="게시를 취소할까요? '
                   '챗봇이 더 이상 이 글로 답하지 않아요.">게시 취소</button>')
    else:
        buttons = ('<button type="submit" name="op" value="save">저장</button>'
                   '<button type="submit" name="op" value="publish" class="primary">저장하고 게시</button>')
    head = ""
    if article_id:
        head = (f'<p class="meta">{status_badge(file_status)} <code>{e(article_id)}.md</code> · '
                f'<a href="/admin/knowledge/{e(article_id)}/history">변경 기록</a> · '
                f'<a href="/admin/knowledge/{e(article_id)}/translations">번역</a></p>')
    alerts = (f'<p class="notice" role="status">{e(notice)}</p>' if notice else "") + \
             (f'<p class="warning" role="alert">{e(warning)}</p>' if warning else "")
    help_ = (f'<details class="help"><summary>항목 안내</summary><p>category: {e(", ".join(CATEGORIES))}</p>'
             f'<p>audience: {e(", ".join(AUDIENCES))}</p><p>status는 버튼으로 바꿔요(draft 초안, published 게시). '
             f'본문 첫 문단이 답변의 첫머리예요. 채널마다 글자 수 제한이 있어 길면 잘려요.</p></details>')
    body = (f'{head}{alerts}{extra}<div class="editor">'
            f'<form method="post" action="{action}" enctype="multipart/form-data" id="editor" '
            f'data-article="{e(article_id or "")}">'
            f'<input type="hidden" name="csrf" value="{e(csrf)}">'
            f'<input type="hidden" name="base" value="{e(base or "")}">'
            f'<label for="content">Markdown (머리말 + 본문) <small id="caret" aria-live="polite"></small></label>'
            f'<textarea id="content" name="content" spellcheck="false" maxlength="{editing.MAX_CHARS}" '
            f'rows="28">{e(text)}</textarea>'
            f'<div class="actions">{buttons}<button type="button" id="preview-now">미리보기</button></div>'
            f'{help_}</form>'
            f'<aside><h2>채널별 답변 미리보기</h2><div id="preview" data-csrf="{e(csrf)}">{preview_html}</div></aside>'
            f'</div>')
    title = "새 글" if article_id is None else "글 편집"
    return page(title, body, csrf=csrf, status=status, script=True)


def _notice(request: web.Request) -> tuple[str, str]:
    done = DONE.get(request.query.get("done", ""), "")
    return done, INDEX_FAILED if request.query.get("index") == "failed" else ""


@login_required
async def edit_page(request: web.Request) -> web.Response:
    article_id = request.match_info["article_id"]
    text = await _existing_text(request)
    settings = _settings(request)
    notice, warning = _notice(request)
    return _editor(request, article_id=article_id, text=text, base=editing.content_hash(text),
                   file_status=editing.status_of(text), notice=notice, warning=warning,
                   preview_html=await _run(preview_fragment, settings, text, article_id))


@login_required
async def new_page(request: web.Request) -> web.Response:
    settings = _settings(request)
    text = _template(settings)
    return _editor(request, article_id=None, text=text, base=None, file_status="draft",
                   preview_html=await _run(preview_fragment, settings, text, None))


def _done_url(article_id: str, result: editing.SaveResult) -> str:
    query = {"done": result.action} | ({"index": "failed"} if result.index_error else {})
    return f"/admin/knowledge/{article_id}/edit?{urlencode(query)}"


async def _save(request: web.Request, article_id: str | None) -> web.Response:
    settings = _settings(request)
    form = await request.post()
    text, op, base = _field(form, "content"), _field(form, "op"), _field(form, "base") or None
    status = {"publish": "published", "unpublish": "draft"}.get(op)
    current = await _existing_text(request) if article_id else None
    file_status = editing.status_of(current) if current is not None else "draft"
    try:
        result = await _run(editing.save, settings, text, author(request), article_id=article_id, status=status,
                            base=base if article_id else None)
    except ArticleError as exc:  # what the editor typed comes back untouched, with the error
        errors = f'<div class="errors" role="alert"><p>저장하지 않았어요. 고칠 곳:</p><ul>{error_item(exc)}</ul></div>'
        return _editor(request, article_id=article_id, text=text, base=base, file_status=file_status,
                       preview_html=errors, status=422)
    except editing.EditConflict:
        # Someone saved first: show both, keep the typed text; saving again now overwrites knowingly.
        diff = editing.diff_html(current or "", editing.normalize(text), "지금 저장된 내용", "내가 입력한 내용")
        return _editor(request, article_id=article_id, text=text, base=editing.content_hash(current),
                       file_status=file_status, status=409,
                       warning="이 글을 여는 사이에 다른 사람이 먼저 저장했어요. 입력한 내용은 그대로 있어요. "
                               "아래 차이를 확인하고, 이대로 덮어쓰려면 다시 저장하세요.",
                       extra=f'<div class="diff-wrap">{diff}</div>',
                       preview_html=await _run(preview_fragment, settings, text, article_id))
    return redirect(_done_url(result.article.id, result))


@login_required
async def edit_save(request: web.Request) -> web.Response:
    return await _save(request, request.match_info["article_id"])


@login_required
async def new_save(request: web.Request) -> web.Response:
    return await _save(request, None)


# --- history ------------------------------------------------------------------------------------

def _who(author_: str) -> str:
    if author_.startswith(("user:", "admin:")):  # a staff account; "admin:<name>" from the retired shared secret
        return author_.split(":", 1)[1]
    return {"admin": "관리자", "system": "기존 파일 (자동 기록)", "cli": "dasi kb import"}.get(author_, author_)


def _label(r: editing.Revision) -> str:
    return f"#{r.id} {when(r.created_at)} {ACTION_LABELS.get(r.action, r.action)}"


@login_required
async def history_page(request: web.Request) -> web.Response:
    article_id = request.match_info["article_id"]
    current = await _existing_text(request)
    revisions: list[editing.Revision] = await _run(editing.history, _settings(request), article_id)
    csrf = staff(request).csrf
    notice = ""
    if revisions and revisions[0].content != current:
        notice = ('<p class="warning">파일이 편집기 밖에서 바뀌었어요. 다음에 저장하거나 되돌릴 때 지금 파일 '
                  '내용도 기록에 남겨요.</p>')
    if not revisions:
        body = (f'<p class="empty">아직 저장된 기록이 없어요. 처음 저장하면 지금 파일 내용이 첫 기록으로 남아요.</p>'
                f'<p><a href="/admin/knowledge/{e(article_id)}/edit">편집하기</a></p>')
        return page(f"변경 기록: {article_id}", body, csrf=csrf)
    wanted = request.query.get("rev", "")
    pos = next((i for i, r in enumerate(revisions) if str(r.id) == wanted), 0)
    chosen, before = revisions[pos], revisions[pos + 1] if pos + 1 < len(revisions) else None
    if before is not None and before.content == chosen.content:
        diff = '<p class="empty">앞 버전과 내용이 같아요.</p>'
    else:
        diff = editing.diff_html(before.content if before else "", chosen.content,
                                 _label(before) if before else "(없음)", _label(chosen))
    rows = []
    for r in revisions:
        revert = ""
        if r.content != current:
            revert = (f'<form method="post" action="/admin/knowledge/{e(article_id)}/revert" '
                      f'data-confirm="#{r.id} 버전으로 되돌릴까요? '
                      f'새 버전으로 기록되고, 게시 상태도 그 버전을 따라요.">'
                      f'<input type="hidden" name="csrf" value="{e(csrf)}">'
                      f'<input type="hidden" name="rev" value="{r.id}">'
                      f'<button type="submit">이 버전으로 되돌리기</button></form>')
        mark = ' class="chosen"' if r is chosen else ""
        rows.append(f'<tr{mark}><td><a href="?rev={r.id}">#{r.id}</a></td><td>{e(when(r.created_at))}</td>'
                    f'<td>{e(ACTION_LABELS.get(r.action, r.action))}</td><td>{e(_who(r.author))}</td>'
                    f'<td>{status_badge(r.status or "invalid")}</td>'
                    f'<td>{"현재 내용" if r.content == current else ""}{revert}</td></tr>')
    body = (f'<p class="meta"><a href="/admin/knowledge/{e(article_id)}/edit">편집으로 돌아가기</a></p>{notice}'
            f'<h2>#{chosen.id}에서 바뀐 내용</h2><div class="diff-wrap">{diff}</div>'
            f'<h2>모든 버전</h2><table class="list history"><thead><tr><th>버전</th><th>시각</th><th>작업</th>'
            f'<th>작성자</th><th>상태</th><th></th></tr></thead><tbody>{"".join(rows)}</tbody></table>')
    return page(f"변경 기록: {article_id}", body, csrf=csrf, script=True)


@login_required
async def revert(request: web.Request) -> web.Response:
    article_id = request.match_info["article_id"]
    await _existing_text(request)
    rev = _field(await request.post(), "rev")
    if not rev.isdigit():
        raise web.HTTPBadRequest(text="되돌릴 버전이 없어요.", content_type="text/plain")
    try:
        result = await _run(editing.revert, _settings(request), article_id, int(rev), author(request))
    except LookupError:
        raise web.HTTPNotFound(text="그런 버전이 없어요.", content_type="text/plain") from None
    except ArticleError as exc:
        body = (f'<div class="errors" role="alert"><p>이 버전은 지금 규칙에 맞지 않아 되돌릴 수 없어요.</p>'
                f'<ul>{error_item(exc)}</ul></div>'
                f'<p><a href="/admin/knowledge/{e(article_id)}/history">기록으로</a></p>')
        return page("되돌릴 수 없어요", body, csrf=staff(request).csrf, status=422)
    return redirect(_done_url(article_id, result))


async def admin_root(request: web.Request) -> web.Response:
    return redirect("/admin/knowledge")


def setup(app: web.Application) -> None:
    app.router.add_get("/admin", admin_root)
    app.router.add_get("/admin/knowledge", list_page)
    app.router.add_get("/admin/knowledge/new", new_page)
    app.router.add_post("/admin/knowledge/new", new_save)
    app.router.add_post("/admin/knowledge/preview", preview)
    app.router.add_get(f"/admin/knowledge/{ID_ROUTE}/edit", edit_page)
    app.router.add_post(f"/admin/knowledge/{ID_ROUTE}/edit", edit_save)
    app.router.add_get(f"/admin/knowledge/{ID_ROUTE}/history", history_page)
    app.router.add_post(f"/admin/knowledge/{ID_ROUTE}/revert", revert)
