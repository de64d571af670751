"""Talks to the Rasa server's REST channel. Any failure is one exception the router can handle."""
from __future__ import annotations

import asyncio
from typing import Any

import aiohttp


class RasaUnavailable(RuntimeError):
    pass


def _reply(item: dict) -> dict | None:
    if not item.get("text") and not item.get("buttons"):
        return None  # images/custom payloads from Rasa are not used by this bot
    out: dict[str, Any] = {"text": item.get("text") or ""}
    buttons = [{"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
               for b in item.get("buttons") or [] if b.get("title")]
    if buttons:
        out["buttons"] = buttons
    return out


def token_params(token: str) -> dict[str, str]:
    """Rasa's API takes its token as `?token=` (`rasa run --auth-token`, started so by `dasi up`)."""
    return {"token": token} if token else {}


async def ask_rasa(http: aiohttp.ClientSession, rasa_url: str, sender: str, text: str,
                   metadata: dict, timeout: float, token: str = "") -> list[dict]:
    try:
        async with asyncio.timeout(timeout):
            async with http.post(f"{rasa_url}/webhooks/rest/webhook", params=token_params(token),
                                 json={"sender": sender, "message": text, "metadata": metadata}) as resp:
                if resp.status != 200:
                    raise RasaUnavailable(f"rasa answered HTTP {resp.status}")
                data = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise RasaUnavailable(type(exc).__name__) from exc
    if not isinstance(data, list):
        raise RasaUnavailable("unexpected answer shape")
    replies = [r for r in (_reply(i) for i in data if isinstance(i, dict)) if r]
    if not replies:
        # Rasa answers [] when an action failed (e.g. the action server is down): treat as a failure.
        raise RasaUnavailable("empty answer")
    return replies
