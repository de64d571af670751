"""Rasa's REST channel (`/webhooks/rest/webhook`, what the gateway asks), for the holder of the API token
only. `rasa run --auth-token` guards Rasa's HTTP API but not its channels, so without this any local
process could talk to the bot as any conversation. The token is the one `dasi up` gives Rasa and the
gateway (`?token=`); serve.py hands it over. Without a token every request is refused.

Runs inside the Rasa virtualenv (Python 3.10): it may import only Rasa.
"""
from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request

_token = {"value": ""}


def require_token(token: str) -> None:
    """Set by serve.py before Rasa builds its channels."""
    _token["value"] = token


def authorised(provided: str | None) -> bool:
    token = _token["value"]
    return bool(token) and hmac.compare_digest((provided or "").encode("utf-8"), token.encode("utf-8"))


class TokenRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"  # the same address as Rasa's own REST channel

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = super().blueprint(on_new_message)

        @bp.middleware("request")
        async def check_token(request: Request) -> Any:
            if not authorised(request.args.get("token")):
                return response.json({"message": "User is not authenticated."}, status=401)
            return None

        return bp
