"""The console's pages (static HTML/JS/CSS, no build step) at /console and /static/console/."""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).with_name("static")


async def console(request: web.Request) -> web.FileResponse:
    # Shows no conversation data until someone signs in: the page asks the JSON API.
    return web.FileResponse(STATIC / "console.html", headers={"Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    app.router.add_get("/console", console)
    app.router.add_static("/static/console/", STATIC)
