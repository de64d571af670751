"""JSON in and out for every API route: one way to answer, read a body and check query/path values.

Bad input is a 4xx ApiError (the gateway's middleware renders it), never a 500.
"""
from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from assistant.web.errors import ApiError

MAX_TEXT = 2000  # characters in one chat message or console reply
MAX_ID = 2**31 - 1  # ids are Integer columns: a bigger number overflows the database driver (a 500)


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def ok(body: dict, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=dumps)


async def read_json(request: web.Request) -> dict:
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "Content-Type must be application/json")
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: deeply nested arrays
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "the body must be a JSON object")
    return body


def text_field(body: dict, name: str = "text", required: bool = True) -> str:
    value = body.get(name, "" if not required else None)
    if not isinstance(value, str) or (required and not value.strip()):
        raise ApiError(400, f"invalid_{name}", f"{name} must be a non-empty string")
    if len(value) > MAX_TEXT:
        raise ApiError(413, "text_too_long", f"{name} must be at most {MAX_TEXT} characters")
    return value.strip()


def query_int(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"invalid_{name}", f"'{name}'는 숫자여야 해요.") from None


def query_flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "") in ("1", "true", "yes")


def path_int(request: web.Request, name: str, not_found: str = "찾을 수 없어요.") -> int:
    try:
        value = int(request.match_info[name])
    except ValueError:
        raise ApiError(404, "not_found", not_found) from None
    if not 0 < value <= MAX_ID:
        raise ApiError(404, "not_found", not_found)
    return value
