"""One security-header hook for every staff page and API answer (console, cases, statistics, detection
review, knowledge admin): never cached, never framed, scripts and styles from this site only."""
from __future__ import annotations

from aiohttp import web

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
STAFF_PREFIXES = ("/console/", "/api/console/", "/admin/", "/api/detection/", "/api/knowledge/")
STAFF_PAGES = ("/console", "/admin")


def is_staff_path(path: str) -> bool:
    return path in STAFF_PAGES or path.startswith(STAFF_PREFIXES)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    if not is_staff_path(request.path):
        return
    response.headers.setdefault("Cache-Control", "no-store")
    # 'self' covers same-host websockets only in newer browsers: name them explicitly.
    response.headers["Content-Security-Policy"] = f"{CSP}; connect-src 'self' ws://{request.host} wss://{request.host}"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(security_headers)
