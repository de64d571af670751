"""Staff pages for translations at /admin/knowledge/translations and /admin/knowledge/<id>/translations:
every translation's status (current, unreviewed, stale), the Korean beside it, edit, mark reviewed.

The work (files, revisions, the index) is in knowledge/translating.py, run in a worker thread.
"""
from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from knowledge import editing, translating
from knowledge.admin.auth import author, login_required, redirect, staff
from knowledge.admin.html import e, error_item, page, when
from knowledge.admin.routes import ID_ROUTE, _field, _run, _settings
from knowledge.articles import ArticleError
from knowledge.translations import LANGUAGE_LABELS_KO, LANGUAGES, STATUS_LABELS

LANG_ROUTE = "{lang:(?:" + "|".join(LANGUAGES) + ")}"
TSTATUS_LABELS = STATUS_LABELS | {"missing": "번역 없음"}
ACTIONS = {"create": "새 번역", "edit": "수정", "review": "검토 완료"}
DONE = {
    "saved": "저장했어요. 검토 완료로 표시하기 전까지는 '검토 전'이에요.",
    "reviewed": "검토 완료로 표시했어요. 지금 한국어 원문 기준으로 챗봇이 이 번역으로 답해요.",
    "none": "바뀐 내용이 없어서 저장하지 않았어요.",
}
STALE_HELP = ("한국어 원문이 번역한 뒤에 바뀌었어요. 챗봇은 이 번역으로 답하지 않고, 긴급 안내와 "
              "'상담원이 답할게요'를 보내요. 원문에 맞게 고친 뒤 '검토 완료'를 누르세요.")
INDEX_FAILED = "저장했지만 번역 검색 색인을 갱신하지 못했어요. 운영자에게 `dasi kb reindex` 실행을 부탁하세요."


def tbadge(status: str) -> str:
    return f'<span class="badge t-{e(status)}" data-status="{e(status)}">{e(TSTATUS_LABELS.get(status, status))}</span>'


def _lang(lang: str) -> str:
    return f"{LANGUAGES[lang]} ({LANGUAGE_LABELS_KO[lang]})"


@login_required
async def overview_page(request: web.Request) -> web.Response:
    table = await _run(translating.overview, _settings(request))
    head = "".join(f"<th>{e(LANGUAGES[lang])}</th>" for lang in LANGUAGES)
    rows = []
    for article_id, langs in sorted(table.items()):
        cells = "".join(
            f'<td><a href="/admin/knowledge/{e(article_id)}/translations/{lang}">{tbadge(langs.get(lang, "missing"))}'
            f'</a></td>' for lang in LANGUAGES)
        rows.append(f'<tr><td><a href="/admin/knowledge/{e(article_id)}/translations">{e(article_id)}</a></td>'
                    f'{cells}</tr>')
    stale = sum(s == "stale" for langs in table.values() for s in langs.values())
    summary = (f'<p class="warning">원문이 바뀌어 검토가 필요한 번역이 {stale}개 있어요.</p>' if stale
               else '<p class="count">원문이 바뀐 번역은 없어요.</p>')
    body = (f'{summary}<table class="list translations"><thead><tr><th>글 id</th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>'
            f'<p class="hint">원문 바뀜: 챗봇이 쓰지 않아요 · 검토 전: 챗봇이 쓰지만 직원이 아직 확인하지 않았어요 · '
            f'최신·검토됨: 지금 원문 기준으로 직원이 확인했어요.</p>')
    return page("번역", body, csrf=staff(request).csrf)


async def _pairs(request: web.Request) -> list[translating.Pair]:
    try:
        return await _run(translating.pairs, _settings(request), request.match_info["article_id"])
    except (FileNotFoundError, ValueError):
        raise web.HTTPNotFound(text="그런 글이 없어요.", content_type="text/plain") from None


@login_required
async def article_page(request: web.Request) -> web.Response:
    article_id = request.match_info["article_id"]
    items = await _pairs(request)
    rows = "".join(
        f'<tr><td><a href="/admin/knowledge/{e(article_id)}/translations/{p.lang}">{e(_lang(p.lang))}</a></td>'
        f'<td>{tbadge(p.status)}</td><td>{e(p.translation.title if p.translation else "")}</td>'
        f'<td>{e(p.translation.reviewed_by if p.translation else "")}</td></tr>' for p in items)
    body = (f'<p class="meta"><a href="/admin/knowledge/{e(article_id)}/edit">한국어 원문 편집</a> · '
            f'<a href="/admin/knowledge/translations">모든 번역</a></p>'
            f'<table class="list"><thead><tr><th>언어</th><th>상태</th><th>제목</th><th>검토한 사람</th></tr></thead>'
            f'<tbody>{rows}</tbody></table>')
    return page(f"번역: {items[0].korean.title}", body, csrf=staff(request).csrf)


async def _pair(request: web.Request) -> translating.Pair:
    try:
        return await _run(translating.pair, _settings(request), request.match_info["article_id"],
                          request.match_info["lang"])
    except (FileNotFoundError, ValueError):
        raise web.HTTPNotFound(text="그런 글이 없어요.", content_type="text/plain") from None


def _review_page(request: web.Request, p: translating.Pair, *, title: str, body: str, base: str,
                 was_korean: str | None, revisions: list, korean_now: str = "", notice: str = "",
                 warning: str = "", errors: str = "", status: int = 200) -> web.Response:
    csrf = staff(request).csrf
    article_id, lang = p.korean.id, p.lang
    t = p.translation
    record = ""
    if t is not None:
        reviewed = (f'{e(t.reviewed_by)}, {e(t.reviewed_at)}' if t.reviewed_by else "아직 없음")
        record = (f'<p class="meta">원문 버전 <code>{e(t.source_hash)}</code>'
                  f'{f" (기록 #{t.source_revision})" if t.source_revision else ""} · 검토: {reviewed}</p>')
    alerts = (f'<p class="notice" role="status">{e(notice)}</p>' if notice else "") + \
             (f'<p class="warning" role="alert">{e(warning)}</p>' if warning else "") + \
             (f'<p class="warning stale" role="alert">{e(STALE_HELP)}</p>' if p.status == "stale" else "")
    changed = ""
    if p.status == "stale" and was_korean is not None:
        diff = editing.diff_html(was_korean, korean_now, "번역할 때 원문", "지금 원문")
        changed = (f'<details open><summary>번역한 뒤 원문에서 바뀐 곳</summary>'
                   f'<div class="diff-wrap">{diff}</div></details>')
    history = "".join(f'<li>{e(when(r.created_at))} {e(ACTIONS.get(r.action, r.action))} · {e(r.author)} · '
                      f'원문 <code>{e(r.source_hash)}</code></li>' for r in revisions)
    form = (f'<form method="post" action="/admin/knowledge/{e(article_id)}/translations/{lang}" id="translation">'
            f'<input type="hidden" name="csrf" value="{e(csrf)}"><input type="hidden" name="base" value="{e(base)}">'
            f'<label>제목 ({e(LANGUAGES[lang])})<input type="text" name="title" value="{e(title)}" '
            f'maxlength="300" required></label>'
            f'<label for="body">본문 (Markdown)</label>'
            f'<textarea id="body" name="body" rows="24" spellcheck="false" maxlength="{editing.MAX_CHARS}">'
            f'{e(body)}</textarea>{errors}'
            f'<div class="actions"><button type="submit" name="op" value="save">저장</button>'
            f'<button type="submit" name="op" value="review" class="primary">저장하고 검토 완료로 표시</button></div>'
            f'<p class="hint">검토 완료: 지금 한국어 원문과 뜻이 같고, 원문에 없는 번호나 내용을 더하지 않았다는 '
            f'확인이에요. 누가 언제 어느 원문 버전으로 검토했는지 기록돼요.</p></form>')
    korean = (f'<section class="korean"><h2>한국어 원문 (지금)</h2><h3>{e(p.korean.title)}</h3>'
              f'<pre class="source">{e(p.korean.body)}</pre></section>')
    page_body = (f'<p class="meta">{tbadge(p.status)} {e(_lang(lang))} · '
                 f'<a href="/admin/knowledge/{e(article_id)}/translations">이 글의 번역</a> · '
                 f'<a href="/admin/knowledge/{e(article_id)}/edit">원문 편집</a></p>{record}{alerts}{changed}'
                 f'<div class="editor side-by-side">{korean}<section>{form}</section></div>'
                 f'<h2>기록</h2><ul class="history">{history or "<li>아직 없어요.</li>"}</ul>')
    return page(f"번역 검토: {p.korean.id} ({lang})", page_body, csrf=csrf, status=status)


@login_required
async def review_page(request: web.Request) -> web.Response:
    p = await _pair(request)
    settings = _settings(request)
    t = p.translation
    was = now = None
    if p.status == "stale" and t:
        was = await _run(translating.korean_at, settings, p.korean.id, t.source_hash)
        now = await _run(editing.read, settings, p.korean.id)
    revisions = await _run(translating.history, settings, p.korean.id, p.lang)
    done = request.query.get("done", "")
    return _review_page(request, p, title=t.title if t else "", body=t.body if t else "", base=p.file_hash,
                        was_korean=was, korean_now=now or "", revisions=revisions, notice=DONE.get(done, ""),
                        warning=INDEX_FAILED if request.query.get("index") == "failed" else "")


@login_required
async def review_save(request: web.Request) -> web.Response:
    p = await _pair(request)
    settings = _settings(request)
    form = await request.post()
    title, body, op, base = _field(form, "title"), _field(form, "body"), _field(form, "op"), _field(form, "base")
    try:
        result = await _run(translating.save, settings, p.korean.id, p.lang, title, body, author(request),
                            base=base, review=op == "review")
    except ArticleError as exc:
        errors = f'<div class="errors" role="alert"><p>저장하지 않았어요.</p><ul>{error_item(exc)}</ul></div>'
        revisions = await _run(translating.history, settings, p.korean.id, p.lang)
        return _review_page(request, p, title=title, body=body, base=base, was_korean=None, revisions=revisions,
                            errors=errors, status=422)
    except editing.EditConflict:
        revisions = await _run(translating.history, settings, p.korean.id, p.lang)
        return _review_page(request, p, title=title, body=body, base=p.file_hash, was_korean=None,
                            revisions=revisions, status=409,
                            warning="이 번역을 여는 사이에 다른 사람이 먼저 저장했어요. 입력한 내용은 그대로 있어요. "
                                    "확인하고 다시 저장하세요.")
    done = "reviewed" if result.reviewed else "saved" if result.saved else "none"
    query = {"done": done} | ({"index": "failed"} if result.index_error else {})
    return redirect(f"/admin/knowledge/{p.korean.id}/translations/{p.lang}?{urlencode(query)}")


def setup(app: web.Application) -> None:
    app.router.add_get("/admin/knowledge/translations", overview_page)
    app.router.add_get(f"/admin/knowledge/{ID_ROUTE}/translations", article_page)
    app.router.add_get(f"/admin/knowledge/{ID_ROUTE}/translations/{LANG_ROUTE}", review_page)
    app.router.add_post(f"/admin/knowledge/{ID_ROUTE}/translations/{LANG_ROUTE}", review_save)
