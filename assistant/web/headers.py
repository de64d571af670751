"""One security-header hook for every answer the gateway gives: the staff pages and APIs, the web chat
people write in (its pages, files and API), the webhooks and /healthz alike. Never cached (a shared
phone, a shared office computer), never framed (the chat overlaid or watched by another site), scripts
and styles from this site only, and over HTTPS, HSTS."""
from __future__ import annotations

from aiohttp import web

from assistant.web.proxies import effective

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
# Once a browser has seen HTTPS here it never tries plain HTTP again (a year, as OWASP suggests). Not
# includeSubDomains: the gateway may share its domain with the centre's other sites; the TLS proxy
# can add it where the domain is the gateway's own.
HSTS = "max-age=31536000"


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    request = effective(request)  # behind a trusted proxy: its scheme and host
    if request.secure:
        response.headers["Strict-Transport-Security"] = HSTS
    response.headers.setdefault("Cache-Control", "no-store")
    # 'self' covers same-host websockets only in newer browsers: name them explicitly.
    response.headers["Content-Security-Policy"] = f"{CSP}; connect-src 'self' ws://{request.host} wss://{request.host}"
    response.headers["X-Frame-Options"] = "DENY"  # for browsers older than frame-ancestors
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(security_headers)
