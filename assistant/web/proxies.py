"""Behind a TLS proxy: X-Forwarded-For/-Proto/-Host are honoured only on connections from a configured
proxy (DASI_TRUSTED_PROXIES), so `request.remote` is the person's address and `request.secure` is true
when they came over HTTPS. Anyone else's X-Forwarded-* is ignored: it would let them pick their address.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from ipaddress import ip_address

from aiohttp import web
from aiohttp_remotes import XForwardedFiltered
from aiohttp_remotes.exceptions import UntrustedIP
from aiohttp_remotes.utils import check_ip

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The request as the proxy saw it. aiohttp prepares a returned response with the original request, so
# response hooks (assistant.web.headers) read the scheme and host from here.
FORWARDED = web.RequestKey("forwarded_request", web.Request)


class TrustedProxies(XForwardedFiltered):
    """aiohttp-remotes' XForwardedFiltered (walks X-Forwarded-For from the right, skipping trusted hops),
    applied only when the TCP peer itself is a trusted proxy; XForwardedFiltered alone does not check it."""

    def __init__(self, trusted: Iterable[str]) -> None:
        super().__init__(set(trusted))  # a bad address or network raises ValueError at start-up

    def _from_proxy(self, request: web.Request) -> bool:
        try:
            check_ip(self._trusted, ip_address(request.remote or ""))
        except (ValueError, UntrustedIP):  # not an IP (a unix socket) or not a proxy of ours
            return False
        return True

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self._from_proxy(request):
            return await handler(request)

        async def forwarded(clone: web.Request) -> web.StreamResponse:
            request[FORWARDED] = clone
            return await handler(clone)

        return await XForwardedFiltered.middleware(self, request, forwarded)


def effective(request: web.Request) -> web.Request:
    """The request with the proxy's view applied (itself when it did not come through a trusted proxy)."""
    return request.get(FORWARDED, request)


def middlewares(trusted: Iterable[str]) -> list:
    """The middleware to put first in the app's list; none when no proxy is configured."""
    trusted = tuple(trusted)
    return [TrustedProxies(trusted).middleware] if trusted else []
