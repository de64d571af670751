"""The knowledge admin: staff edit, preview, publish and revert articles at /admin/knowledge and review their
translations (HTTP only; knowledge.editing and knowledge.translating do the work), and the console's canned replies."""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).with_name("static")


def setup(app: web.Application) -> None:
    from knowledge.admin import auth, canned, routes, translations

    auth.setup(app)
    translations.setup(app)  # before routes: its fixed path /admin/knowledge/translations comes first
    routes.setup(app)
    canned.setup(app)
    app.router.add_static("/static/admin/", STATIC)
