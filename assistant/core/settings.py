"""One settings object for every process: environment first, then `.env`, then defaults."""
from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("dasi.settings")


def _source() -> dict[str, str]:
    env_file = Path(os.environ.get("DASI_ENV_FILE", ROOT / ".env"))
    values = {k: v for k, v in dotenv_values(env_file).items() if v is not None} if env_file.exists() else {}
    values.update(os.environ)  # the environment always wins
    return values


def _path(value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else ROOT / p


def _sqlite_absolute(url: str) -> str:
    """Relative SQLite paths are relative to the repo, not to whatever directory a process runs in."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(ROOT / url[len(prefix):])
    return url


# Below this cosine similarity a knowledge answer is not given. Each embedding has its own scale
# (e5's cosines sit between 0.82 and 0.95). For e5, measured with `dasi kb eval`: at 0.885, 99.4% of
# knowledge/eval/questions.jsonl passes and 42% of knowledge/eval/unanswerable.jsonl does (0.87: 100%
# and 77%); in the chat, NLU sends most off-topic messages to the stricter small-talk bar.
MIN_CONFIDENCE = {"e5": 0.885, "hashing": 0.3}


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = "sqlite:///var/dasi.db"
    data_keys: tuple[str, ...] = ()
    secret_key: str = ""
    rasa_url: str = "http://127.0.0.1:5005"
    # Several Rasa servers (DASI_RASA_URLS, comma-separated) sharing one tracker store and lock store:
    # the gateway spreads messages over them and fails over (connectors/rasa_client.py). Empty: rasa_url.
    rasa_urls: tuple[str, ...] = ()
    actions_url: str = "http://127.0.0.1:5055"
    rasa_timeout: float = 3.0  # how long a person waits for the bot before "잠시만요" (the answer still comes)
    rasa_patience: float = 60.0  # how long a slow bot is waited for before it counts as down
    rasa_concurrency: int = 8  # messages asked of Rasa at once; the rest wait their turn, in order
    rasa_tracker_url: str = ""
    # Redis shared by several gateways and Rasa servers (ARCHITECTURE.md "More than one machine"): live
    # events, per-conversation turns, rate limits, Rasa's lock store. Empty: all in this process.
    redis_url: str = ""
    # This gateway's name in answer claims (connectors/claims.py): stable across restarts, so a restarted
    # gateway takes back at once what it was answering when it died. Empty: hostname:port.
    instance: str = ""
    recovery_interval: float = 15.0  # seconds between looks for messages a dead gateway left unanswered
    # Rasa's API token (`rasa run --auth-token`); empty: `dasi up` makes a fresh one for each run.
    rasa_token: str = ""
    centre_name: str = "시립 다시함께상담센터"
    centre_phone: str = "02-814-3660"
    privacy_url: str = "/privacy"
    knowledge_dir: Path = field(default_factory=lambda: ROOT / "knowledge" / "articles")
    chroma_dir: Path = field(default_factory=lambda: ROOT / "var" / "chroma")
    index_dir: Path = field(default_factory=lambda: ROOT / "var" / "knowledge")
    var_dir: Path = field(default_factory=lambda: ROOT / "var")
    # Trained models (Rasa's, the risk model): build output of `make`, read by every process.
    models_dir: Path = field(default_factory=lambda: ROOT / "models")
    embeddings: str = "e5"
    kb_min_confidence: float = MIN_CONFIDENCE["e5"]  # the default embeddings' bar
    centre_hours: str = "mon-fri 09:00-18:00"
    # Answers for messages in another language than Korean ("module:function", called with (question,
    # lang)); connectors/languages.py. A missing module means: a counsellor answers them.
    translated_answers: str = "knowledge.multilingual:answer_in_language"
    # Optional LLM rewrite of knowledge answers (any OpenAI-compatible endpoint); empty URL = off.
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = ""
    llm_timeout: float = 3.0
    # Detection pipeline: source definitions, the X API (recent search) and how boards see us.
    detect_sources_file: Path = field(default_factory=lambda: ROOT / "detection" / "pipeline" / "sources.yml")
    x_api_base: str = "https://api.x.com"
    x_bearer_token: str = ""
    detect_user_agent: str = "dasi-detection/0.1 (+counselling centre monitoring)"
    # Watcher outreach (detection/outreach): dry run until an operator turns sending on; an account or
    # contact flagged this many times is escalated to a report draft; sends per target and per platform.
    outreach_dry_run: bool = True
    outreach_escalate_after: int = 3
    outreach_rate_per_target: str = "2/day"
    outreach_rate_per_platform: str = "30/hour"
    # Channels (connectors/kakao, meta, x). A channel is on only when its secrets are set;
    # X's send API shares x_api_base above.
    kakao_skill_secret: str = ""
    kakao_callback_hosts: tuple[str, ...] = ("*.kakao.com",)
    kakao_reply_budget: float = 3.5  # seconds before answering useCallback / holding text (Kakao waits 5)
    meta_app_secret: str = ""
    meta_instagram_app_secret: str = ""  # UNVERIFIED whether IG-Login webhooks are signed with this one
    meta_verify_token: str = ""
    meta_page_access_token: str = ""
    meta_graph_base: str = "https://graph.facebook.com/v25.0"
    x_consumer_secret: str = ""
    x_client_secret: str = ""
    x_user_access_token: str = ""
    x_bot_user_id: str = ""
    outbound_attempts: int = 5
    outbound_backoff: float = 1.0  # first retry delay in seconds; doubles each time
    outbound_max_wait: float = 60.0  # longest single wait, whatever Retry-After asks for
    # Retention (casebook/retention.py explains the defaults): days after closure / last activity.
    retention_case_days: int = 1825
    retention_conversation_days: int = 180
    # Where the anonymous web chat's rate limits count (assistant/web/limits.py): memory:// in one gateway;
    # a shared one (e.g. redis://127.0.0.1:6379; DASI_REDIS_URL's when that is set) when several gateways serve.
    rate_limit_storage: str = "memory://"
    # The anonymous web chat's limits per address (connectors/web/throttle.py says why these numbers):
    # raise them where many people share one address (a shelter's or a school's wifi).
    webchat_rate_per_address: str = "60/minute"
    webchat_new_sessions_per_address: str = "10/hour"
    # Reverse proxies (addresses or networks) whose X-Forwarded-For/-Proto/-Host are believed
    # (assistant/web/proxies.py); empty: the gateway faces people directly and believes none.
    trusted_proxies: tuple[str, ...] = ()

    @property
    def kakao_enabled(self) -> bool:
        return bool(self.kakao_skill_secret)

    @property
    def meta_enabled(self) -> bool:
        return bool(self.meta_app_secret and self.meta_verify_token and self.meta_page_access_token)

    @property
    def x_enabled(self) -> bool:
        # The bot's own id too: without it no event can be told to be addressed to us (connectors/x).
        return bool((self.x_consumer_secret or self.x_client_secret) and self.x_user_access_token
                    and self.x_bot_user_id)

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)

    @property
    def reply_timeout(self) -> float:
        """How long a person waits for the bot before a holding note: an LLM rewrite gets its own time
        on top, so a slow LLM still answers at once with the offline answer."""
        return self.rasa_timeout + (self.llm_timeout if self.llm_enabled else 0.0)

    @property
    def bot_patience(self) -> float:
        """How long a slow bot is waited for before the gateway treats it as down (fallback, queue)."""
        return max(self.rasa_patience, self.reply_timeout)

    @property
    def rasa_servers(self) -> tuple[str, ...]:
        return self.rasa_urls or (self.rasa_url,)

    @property
    def instance_name(self) -> str:
        return self.instance or f"{socket.gethostname()}:{self.port}"

    @property
    def rate_limit_store(self) -> str:
        """DASI_RATE_LIMIT_STORAGE, else the shared Redis when there is one, else this process's memory."""
        if self.rate_limit_storage == "memory://" and self.redis_url:
            return self.redis_url
        return self.rate_limit_storage

    @property
    def public_url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _url(value: str) -> str:
    return value.strip().rstrip("/")


def _tuple(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _rate(value: str) -> str:
    """A rate like "60/minute" or "10/hour" (checked here, so a typo stops the start, not a request)."""
    count, _, per = value.strip().partition("/")
    if not count.strip().isdigit() or per.strip() not in ("second", "minute", "hour", "day"):
        raise ValueError(f"{value!r} is not a rate like 60/minute")
    return f"{int(count)}/{per.strip()}"


def _bool(value: str) -> bool:
    v = value.strip().lower()
    if v not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
        raise ValueError(f"{value!r} is not 1/0 (true/false)")
    return v in ("1", "true", "yes", "on")


def _hosts(value: str) -> tuple[str, ...]:
    return tuple(h.lower() for h in _tuple(value))


# Each setting's environment name(s) (the first set wins) and how its text is read. Defaults live only
# on the Settings fields above: an unset or empty variable keeps the field's default.
ENV: dict[str, tuple[tuple[str, ...], Callable[[str], Any]]] = {
    "host": (("DASI_HOST",), str),
    "port": (("DASI_PORT",), int),
    "database_url": (("DASI_DATABASE_URL",), _sqlite_absolute),
    "data_keys": (("DASI_DATA_KEY",), _tuple),
    "secret_key": (("DASI_SECRET_KEY",), str),
    "rasa_url": (("DASI_RASA_URL",), _url),
    "rasa_urls": (("DASI_RASA_URLS",), lambda v: tuple(_url(u) for u in _tuple(v))),
    "actions_url": (("DASI_ACTIONS_URL",), _url),
    "rasa_timeout": (("DASI_RASA_TIMEOUT",), float),
    "rasa_patience": (("DASI_RASA_PATIENCE",), float),
    "rasa_concurrency": (("DASI_RASA_CONCURRENCY",), int),
    "rasa_tracker_url": (("DASI_RASA_TRACKER_URL",), str),
    "redis_url": (("DASI_REDIS_URL",), str.strip),
    "instance": (("DASI_INSTANCE",), str.strip),
    "recovery_interval": (("DASI_RECOVERY_INTERVAL",), float),
    "rasa_token": (("DASI_RASA_TOKEN",), str.strip),
    "centre_name": (("DASI_CENTRE_NAME",), str),
    "centre_phone": (("DASI_CENTRE_PHONE",), str),
    "privacy_url": (("DASI_PRIVACY_URL",), str),
    "knowledge_dir": (("DASI_KNOWLEDGE_DIR",), _path),
    "chroma_dir": (("DASI_CHROMA_DIR",), _path),
    "index_dir": (("DASI_INDEX_DIR",), _path),
    "var_dir": (("DASI_VAR_DIR",), _path),
    "models_dir": (("DASI_MODELS_DIR",), _path),
    "embeddings": (("DASI_EMBEDDINGS",), str),
    "kb_min_confidence": (("DASI_KB_MIN_CONFIDENCE",), float),
    "centre_hours": (("DASI_CENTRE_HOURS",), str),
    "translated_answers": (("DASI_TRANSLATED_ANSWERS",), str.strip),
    "llm_base_url": (("DASI_LLM_BASE_URL",), _url),
    "llm_model": (("DASI_LLM_MODEL",), str.strip),
    "llm_api_key": (("DASI_LLM_API_KEY",), str),
    "llm_timeout": (("DASI_LLM_TIMEOUT",), float),
    "detect_sources_file": (("DASI_DETECT_SOURCES",), _path),
    "x_api_base": (("X_API_BASE",), _url),  # X's API for the DM channel and detection's search alike
    "x_bearer_token": (("DASI_X_BEARER_TOKEN",), str),
    "detect_user_agent": (("DASI_DETECT_USER_AGENT",), str),
    "outreach_dry_run": (("DASI_OUTREACH_DRY_RUN",), _bool),
    "outreach_escalate_after": (("DASI_OUTREACH_ESCALATE_AFTER",), int),
    "outreach_rate_per_target": (("DASI_OUTREACH_RATE_PER_TARGET",), _rate),
    "outreach_rate_per_platform": (("DASI_OUTREACH_RATE_PER_PLATFORM",), _rate),
    "kakao_skill_secret": (("KAKAO_SKILL_SECRET",), str),
    "kakao_callback_hosts": (("KAKAO_CALLBACK_HOSTS",), _hosts),
    "kakao_reply_budget": (("KAKAO_REPLY_BUDGET",), float),
    "meta_app_secret": (("META_APP_SECRET",), str),
    "meta_instagram_app_secret": (("META_INSTAGRAM_APP_SECRET",), str),
    "meta_verify_token": (("META_VERIFY_TOKEN",), str),
    "meta_page_access_token": (("META_PAGE_ACCESS_TOKEN",), str),
    "meta_graph_base": (("META_GRAPH_BASE",), _url),
    "x_consumer_secret": (("X_CONSUMER_SECRET",), str),
    "x_client_secret": (("X_CLIENT_SECRET",), str),
    "x_user_access_token": (("X_USER_ACCESS_TOKEN",), str),
    "x_bot_user_id": (("X_BOT_USER_ID",), str),
    "outbound_attempts": (("DASI_OUTBOUND_ATTEMPTS",), int),
    "outbound_backoff": (("DASI_OUTBOUND_BACKOFF",), float),
    "outbound_max_wait": (("DASI_OUTBOUND_MAX_WAIT",), float),
    "retention_case_days": (("DASI_RETENTION_CASE_DAYS",), int),
    "retention_conversation_days": (("DASI_RETENTION_CONVERSATION_DAYS",), int),
    "rate_limit_storage": (("DASI_RATE_LIMIT_STORAGE",), str.strip),
    "webchat_rate_per_address": (("DASI_WEBCHAT_RATE_PER_ADDRESS",), _rate),
    "webchat_new_sessions_per_address": (("DASI_WEBCHAT_NEW_SESSIONS_PER_ADDRESS",), _rate),
    "trusted_proxies": (("DASI_TRUSTED_PROXIES",), _tuple),
}
# One name per setting. Names no longer read, and what replaced each: an old .env that still sets one is
# told so, instead of its value being ignored in silence.
RETIRED = {"DASI_X_API_BASE": "X_API_BASE"}


def load_settings() -> Settings:
    source = _source()
    values: dict[str, Any] = {}
    for name, (env_names, parse) in ENV.items():
        raw = next((source[n] for n in env_names if source.get(n, "").strip()), None)
        if raw is not None:
            values[name] = parse(raw)
    for old, new in RETIRED.items():
        if source.get(old, "").strip():
            log.warning("%s is no longer read: set %s instead (or remove the line to keep the default)", old, new)
    if "kb_min_confidence" not in values:  # each embedding has its own scale (see MIN_CONFIDENCE)
        values["kb_min_confidence"] = MIN_CONFIDENCE.get(values.get("embeddings", "e5"), 0.5)
    return Settings(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings; tests that change the environment call `get_settings.cache_clear()`."""
    return load_settings()
