"""Cookie and CSRF helpers shared by the knowledge admin and the counsellor console."""
from __future__ import annotations

import hmac

from aiohttp import web

CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def set_session_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str,
                       max_age: int, path: str) -> None:
    """HttpOnly and SameSite=Strict always; Secure whenever the request came over HTTPS."""
    response.set_cookie(name, value, max_age=max(0, max_age), path=path, httponly=True, samesite="Strict",
                        secure=request.secure)


def tokens_match(given: object, expected: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())
