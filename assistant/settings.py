"""One settings object for every process: environment first, then `.env`, then defaults."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent


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
    admin_secret: str = ""
    rasa_url: str = "http://127.0.0.1:5005"
    actions_url: str = "http://127.0.0.1:5055"
    rasa_timeout: float = 3.0
    rasa_tracker_url: str = ""
    centre_name: str = "시립 다시함께상담센터"
    centre_phone: str = "02-814-3660"
    privacy_url: str = "/privacy"
    knowledge_dir: Path = field(default_factory=lambda: ROOT / "knowledge" / "articles")
    chroma_dir: Path = field(default_factory=lambda: ROOT / "var" / "chroma")
    index_dir: Path = field(default_factory=lambda: ROOT / "var" / "knowledge")
    var_dir: Path = field(default_factory=lambda: ROOT / "var")
    embeddings: str = "e5"
    kb_min_confidence: float = 0.87
    centre_hours: str = "mon-fri 09:00-18:00"
    # Optional LLM rewrite of knowledge answers (any OpenAI-compatible endpoint); empty URL = off.
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = ""
    llm_timeout: float = 3.0
    # Detection pipeline: source definitions, the X API (recent search) and how boards see us.
    detect_sources_file: Path = field(default_factory=lambda: ROOT / "detection" / "sources.yml")
    x_api_base: str = "https://api.x.com"
    x_bearer_token: str = ""
    detect_user_agent: str = "dasi-detection/0.1 (+counselling centre monitoring)"
    detect_feedback_file: Path = field(default_factory=lambda: ROOT / "var" / "detection" / "feedback.jsonl")
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

    @property
    def kakao_enabled(self) -> bool:
        return bool(self.kakao_skill_secret)

    @property
    def meta_enabled(self) -> bool:
        return bool(self.meta_app_secret and self.meta_verify_token and self.meta_page_access_token)

    @property
    def x_enabled(self) -> bool:
        return bool((self.x_consumer_secret or self.x_client_secret) and self.x_user_access_token)

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)

    @property
    def reply_timeout(self) -> float:
        """How long the gateway waits for the bot: an LLM rewrite gets its own time on top, so a
        slow LLM falls back to the offline answer instead of to the emergency fallback."""
        return self.rasa_timeout + (self.llm_timeout if self.llm_enabled else 0.0)

    @property
    def public_url(self) -> str:
        return f"http://{self.host}:{self.port}"


def load_settings() -> Settings:
    s = _source()
    keys = tuple(k.strip() for k in s.get("DASI_DATA_KEY", "").split(",") if k.strip())
    return Settings(
        host=s.get("DASI_HOST", "127.0.0.1"),
        port=int(s.get("DASI_PORT", "8080")),
        database_url=_sqlite_absolute(s.get("DASI_DATABASE_URL") or "sqlite:///var/dasi.db"),
        data_keys=keys,
        secret_key=s.get("DASI_SECRET_KEY", ""),
        admin_secret=s.get("DASI_ADMIN_SECRET", ""),
        rasa_url=s.get("DASI_RASA_URL", "http://127.0.0.1:5005").rstrip("/"),
        actions_url=s.get("DASI_ACTIONS_URL", "http://127.0.0.1:5055").rstrip("/"),
        rasa_timeout=float(s.get("DASI_RASA_TIMEOUT", "3")),
        rasa_tracker_url=s.get("DASI_RASA_TRACKER_URL", ""),
        centre_name=s.get("DASI_CENTRE_NAME", "시립 다시함께상담센터"),
        centre_phone=s.get("DASI_CENTRE_PHONE", "02-814-3660"),
        privacy_url=s.get("DASI_PRIVACY_URL", "/privacy"),
        knowledge_dir=_path(s.get("DASI_KNOWLEDGE_DIR") or "knowledge/articles"),
        chroma_dir=_path(s.get("DASI_CHROMA_DIR") or "var/chroma"),
        index_dir=_path(s.get("DASI_INDEX_DIR") or "var/knowledge"),
        var_dir=_path(s.get("DASI_VAR_DIR") or "var"),
        embeddings=(embeddings := s.get("DASI_EMBEDDINGS") or "e5"),
        centre_hours=s.get("DASI_CENTRE_HOURS") or "mon-fri 09:00-18:00",
        kb_min_confidence=float(s.get("DASI_KB_MIN_CONFIDENCE") or MIN_CONFIDENCE.get(embeddings, 0.5)),
        llm_base_url=(s.get("DASI_LLM_BASE_URL") or "").strip().rstrip("/"),
        llm_model=(s.get("DASI_LLM_MODEL") or "").strip(),
        llm_api_key=s.get("DASI_LLM_API_KEY") or "",
        llm_timeout=float(s.get("DASI_LLM_TIMEOUT") or "3"),
        detect_sources_file=_path(s.get("DASI_DETECT_SOURCES") or "detection/sources.yml"),
        x_api_base=(s.get("DASI_X_API_BASE") or s.get("X_API_BASE") or "https://api.x.com").rstrip("/"),
        x_bearer_token=s.get("DASI_X_BEARER_TOKEN") or "",
        detect_user_agent=s.get("DASI_DETECT_USER_AGENT") or "dasi-detection/0.1 (+counselling centre monitoring)",
        detect_feedback_file=_path(s.get("DASI_DETECT_FEEDBACK") or "var/detection/feedback.jsonl"),
        kakao_skill_secret=s.get("KAKAO_SKILL_SECRET") or "",
        kakao_callback_hosts=tuple(h.strip().lower() for h in (s.get("KAKAO_CALLBACK_HOSTS") or "*.kakao.com")
                                   .split(",") if h.strip()),
        kakao_reply_budget=float(s.get("KAKAO_REPLY_BUDGET") or "3.5"),
        meta_app_secret=s.get("META_APP_SECRET") or "",
        meta_instagram_app_secret=s.get("META_INSTAGRAM_APP_SECRET") or "",
        meta_verify_token=s.get("META_VERIFY_TOKEN") or "",
        meta_page_access_token=s.get("META_PAGE_ACCESS_TOKEN") or "",
        meta_graph_base=(s.get("META_GRAPH_BASE") or "https://graph.facebook.com/v25.0").rstrip("/"),
        x_consumer_secret=s.get("X_CONSUMER_SECRET") or "",
        x_client_secret=s.get("X_CLIENT_SECRET") or "",
        x_user_access_token=s.get("X_USER_ACCESS_TOKEN") or "",
        x_bot_user_id=s.get("X_BOT_USER_ID") or "",
        outbound_attempts=int(s.get("DASI_OUTBOUND_ATTEMPTS") or "5"),
        outbound_backoff=float(s.get("DASI_OUTBOUND_BACKOFF") or "1"),
        outbound_max_wait=float(s.get("DASI_OUTBOUND_MAX_WAIT") or "60"),
        retention_case_days=int(s.get("DASI_RETENTION_CASE_DAYS") or "1825"),
        retention_conversation_days=int(s.get("DASI_RETENTION_CONVERSATION_DAYS") or "180"),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings; tests that change the environment call `get_settings.cache_clear()`."""
    return load_settings()
