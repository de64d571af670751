"""One security-header hook for every staff page and API answer (console, cases, statistics, detection
review, knowledge admin) and for the web chat people write in (its pages, files and API): never cached,
never framed, scripts and styles from this site only."""
from __future__ import annotations

from aiohttp import web

from assistant.web.proxies import effective

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
STAFF_PREFIXES = ("/console/", "/api/console/", "/admin/", "/api/detection/", "/api/knowledge/")
STAFF_PAGES = ("/console", "/admin")
# The victim-facing chat: framed by another site it could be overlaid or watched; on a shared phone
# nothing of it should stay in the browser's cache.
CHAT_PREFIXES = ("/static/chat/", "/api/webchat/")
CHAT_PAGES = ("/", "/privacy")
# Once a browser has seen HTTPS here it never tries plain HTTP again (a year, as OWASP suggests).
HSTS = "max-age=31536000"


def is_staff_path(path: str) -> bool:
    return path in STAFF_PAGES or path.startswith(STAFF_PREFIXES)


def is_chat_path(path: str) -> bool:
    return path in CHAT_PAGES or path.startswith(CHAT_PREFIXES)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    request = effective(request)  # behind a trusted proxy: its scheme and host
    if request.secure:  # every answer over HTTPS, the web chat's too
        response.headers["Strict-Transport-Security"] = HSTS
    if not (is_staff_path(request.path) or is_chat_path(request.path)):
        return
    response.headers.setdefault("Cache-Control", "no-store")
    # 'self' covers same-host websockets only in newer browsers: name them explicitly.
    response.headers["Content-Security-Policy"] = f"{CSP}; connect-src 'self' ws://{request.host} wss://{request.host}"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(security_headers)
