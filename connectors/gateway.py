"""The gateway: the one aiohttp app that talks to the outside world."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
import redis.asyncio as redis_asyncio
from aiohttp import web
from sqlalchemy import text

from assistant.core.errors import DomainError
from assistant.core.settings import Settings, get_settings
from assistant.language.detect import preload as preload_languages
from assistant.safety.risk.assess import RiskAssessor, default_assessor
from assistant.store.db import close_engines, sessionmaker
from assistant.web import headers, proxies
from assistant.web.appkeys import HTTP, LIVE, SETTINGS
from assistant.web.errors import ApiError, json_error
from assistant.web.live import LiveHub, RedisLiveHub
from casebook import console
from connectors import channels
from connectors import web as web_chat
from connectors.appkeys import REDIS, ROUTER
from connectors.claims import Turns
from connectors.rasa_client import token_params
from connectors.router import Router
from detection.citizen import routes as citizen_reports
from detection.outreach import routes as detection_outreach
from detection.review import routes as detection_review
from knowledge import admin as knowledge_admin
from knowledge.index import is_current, manifest

log = logging.getLogger("dasi.gateway")

MAX_BODY = 64 * 1024  # webhooks and chat messages are small; anything bigger is refused (413)


@web.middleware
async def api_errors(request: web.Request, handler):
    """Errors on API and webhook paths are JSON, and an unexpected one is a logged 500 with no detail."""
    try:
        return await handler(request)
    except ApiError as exc:
        return json_error(exc.status, exc.code, exc.message)
    except DomainError as exc:  # a package's typed refusal: its code, and the Korean text for that code
        return json_error(exc.http_status, exc.code, exc.message)
    except web.HTTPException as exc:
        if request.path.startswith(("/api/", "/webhooks/")) and exc.status >= 400:
            return json_error(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "internal_error", "처리 중 문제가 생겼어요. 위험하면 112에 연락하세요.")


async def _check_url(http: aiohttp.ClientSession, url: str, want_model: bool = False,
                     params: dict[str, str] | None = None) -> str:
    try:
        async with asyncio.timeout(2):
            async with http.get(url, params=params) as resp:
                if resp.status != 200:
                    return f"HTTP {resp.status}"
                if want_model:
                    data = await resp.json(content_type=None)
                    if not data.get("model_file"):
                        return "no model loaded"
                return "ok"
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        return f"down ({type(exc).__name__})"


async def _check_db() -> str:
    try:
        async with asyncio.timeout(2):
            async with sessionmaker()() as s:
                await s.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # any failure means "not ok"; the reason is the exception's type
        return f"down ({type(exc).__name__})"


def _check_knowledge(settings: Settings) -> str:
    m = manifest(settings)
    if not m or not m.get("articles"):
        return "missing (run `dasi kb reindex`)"
    return "ok" if is_current(settings) else "stale (articles changed; run `dasi kb reindex`)"


async def healthz(request: web.Request) -> web.Response:
    settings, http = request.app[SETTINGS], request.app[HTTP]
    *rasas, actions, db = await asyncio.gather(
        *(_check_url(http, f"{url}/status", want_model=True, params=token_params(settings.rasa_token))
          for url in settings.rasa_servers),
        _check_url(http, f"{settings.actions_url}/health"),
        _check_db())
    # Several Rasa servers: the bot answers while any one does (each down one is named apart).
    rasa = "ok" if "ok" in rasas else rasas[0]
    knowledge = await asyncio.get_running_loop().run_in_executor(None, _check_knowledge, settings)
    components = {"rasa": rasa, "actions": actions, "db": db, "knowledge": knowledge}
    failing = [k for k, v in components.items() if v != "ok"]
    body: dict[str, Any] = {"status": "ok" if not failing else "degraded", "components": components}
    if failing:
        body["failing"] = failing
    if len(rasas) > 1:
        body["rasa_servers"] = rasas
    return web.json_response(body, status=200 if not failing else 503,
                             dumps=lambda o: json.dumps(o, ensure_ascii=False))


LANGUAGES_LOADING = web.AppKey("languages_loading", asyncio.Future)


def _warm_assessor(settings: Settings) -> RiskAssessor:
    """Load the risk model, the tokenizer and the embedding model once, before the first person writes."""
    assessor = default_assessor(settings.models_dir)
    assessor.assess("안녕하세요")
    return assessor


async def _startup(app: web.Application) -> None:
    app[HTTP] = aiohttp.ClientSession()
    assessor = await asyncio.get_running_loop().run_in_executor(None, _warm_assessor, app[SETTINGS])
    # The language detector's models (~1 s, ~220 MB) load beside the first requests, not before health:
    # a Korean message never needs them, and the screen never waits for them.
    app[LANGUAGES_LOADING] = asyncio.get_running_loop().run_in_executor(None, preload_languages)
    settings = app[SETTINGS]
    await app[LIVE].start()
    turns = Turns(app.get(REDIS), wait=settings.bot_patience + 15)
    app[ROUTER] = Router(settings, sessionmaker(settings.database_url), app[HTTP], assessor, app[LIVE], turns=turns)
    await channels.start(app)  # the outbox (app[OUTBOX]) and the platform senders; logs which channels are on


async def _cleanup(app: web.Application) -> None:
    await channels.stop(app)  # let background answers and deliveries finish first
    await app[LIVE].close()
    if REDIS in app:
        await app[REDIS].aclose()
    await app[HTTP].close()
    await close_engines()


def create_app(settings: Settings | None = None) -> web.Application:
    """The app factory: the channels (this package) and the staff back office (each package's own routes)."""
    settings = settings or get_settings()
    # The trusted proxies' middleware first: everything after it sees the person's address and scheme.
    app = web.Application(middlewares=[*proxies.middlewares(settings.trusted_proxies), api_errors],
                          client_max_size=MAX_BODY)
    app[SETTINGS] = settings
    if settings.redis_url:  # several gateways: live events, conversation turns and rate limits shared
        app[REDIS] = redis_asyncio.from_url(settings.redis_url)
        app[LIVE] = RedisLiveHub(app[REDIS])
    else:
        app[LIVE] = LiveHub()
    app.on_startup.append(_startup)
    app.on_cleanup.append(_cleanup)
    app.router.add_get("/healthz", healthz)
    channels.setup(app)  # /webhooks/kakao, /webhooks/meta, /webhooks/x: only those whose secrets are set
    web_chat.setup(app)  # /, /privacy, /api/webchat/* and its websocket
    headers.setup(app)  # security headers on every staff page and API answer, and the web chat's
    console.setup(app)  # /console, /console/cases, /console/stats, /api/console/* (casebook)
    knowledge_admin.setup(app)  # /admin/login, /admin/knowledge, /api/console/canned (knowledge)
    detection_review.setup(app)  # /console/detection and /api/detection/* (detection)
    detection_outreach.setup(app)  # /console/outreach and /api/outreach/* (detection's watcher outreach)
    citizen_reports.setup(app)  # /report, /report/status, /api/report* and the citizen worker (detection)
    return app


def run(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # access logs carry session ids
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None)
