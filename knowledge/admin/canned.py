"""Canned replies for the counsellor console: published articles as reply templates, to insert and edit
before sending. Served at /api/console/canned (the console's API) by the package that owns the articles."""
from __future__ import annotations

import asyncio

from aiohttp import web

from assistant.web.appkeys import SETTINGS
from assistant.web.responses import ok
from casebook.console.auth import CONSOLE_ROLES, require_user
from knowledge.articles import load_articles


async def canned(request: web.Request) -> web.Response:
    """Published knowledge articles as reply templates, to insert and edit before sending."""
    await require_user(request, CONSOLE_ROLES)
    q = request.query.get("q", "").strip().lower()[:100]
    articles = await asyncio.get_running_loop().run_in_executor(
        None, load_articles, request.app[SETTINGS].knowledge_dir)
    found = [a for a in articles if not q or q in a.title.lower() or q in a.body.lower()
             or any(q in x.lower() for x in a.questions)]
    return ok({"replies": [{"id": a.id, "title": a.title, "text": a.body} for a in found[:30]]})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/console/canned", canned)
