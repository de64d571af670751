"""`dasi up`: start the action server, the Rasa server and the gateway, wait for each to be
healthy, keep them running, and stop them all on Ctrl-C or SIGTERM."""
from __future__ import annotations

import ctypes
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlparse

import yaml

from assistant.cli.training import model_path, rasa_bin, rasa_env
from assistant.core.settings import ROOT, Settings
from connectors.rasa_client import RASA_LOCK_PREFIX

VENV_PY = Path(sys.executable)
RASA_PROJECT = ROOT / "assistant" / "rasa_project"
# Idle conversations leave Rasa's memory after the domain's session_expiration_time (60 min): a later
# message starts a new session anyway (assistant/rasa_project/tracker_store.py).
TRACKER_EXPIRY_SECONDS = 3600
RASA_LOCK_LIFETIME = 15  # seconds (Rasa's TICKET_LOCK_LIFETIME), with the lock store in Redis


class StartupError(RuntimeError):
    pass


def _die_with_parent() -> None:
    """Children get SIGTERM if `dasi up` itself dies, so nothing is left running."""
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    os.setsid()  # own process group: Ctrl-C reaches `dasi up`, which stops children in order


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    ready: Callable[[], bool]
    timeout: float
    log_path: Path
    proc: subprocess.Popen | None = None
    restarts: list[float] = field(default_factory=list)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        os.chmod(self.log_path, 0o600)
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        log.close()
        pid_file = self.log_path.parent.parent / "run" / f"{self.name}.pid"
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        pid_file.write_text(str(self.proc.pid))

    def exit_code(self) -> int | None:
        """None while running (or never started)."""
        return self.proc.poll() if self.proc is not None else None

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if (code := self.exit_code()) is not None:
                raise StartupError(f"{self.name} exited with code {code}\n{self.tail()}")
            if self.ready():
                return
            time.sleep(0.5)
        raise StartupError(f"{self.name} did not become healthy within {self.timeout:.0f} s\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "\n".join(f"    {line}" for line in text)

    def stop(self, grace: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def _http_ok(url: str, check: Callable[[bytes], bool] = lambda body: True) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200 and check(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _model_loaded(body: bytes) -> bool:
    return bool(json.loads(body).get("model_file"))


def _rasa_ready(rasa_url: str, token: str = "") -> bool:
    """Loaded, and warmed up: TensorFlow's first prediction is slow, and nobody should wait for it."""
    auth = f"?token={quote(token, safe='')}" if token else ""
    if not _http_ok(f"{rasa_url}/status{auth}", _model_loaded):
        return False
    for text in ("안녕하세요", "선불금 갚아야 하나요?", "상담원 연결해 주세요"):
        req = urllib.request.Request(f"{rasa_url}/model/parse{auth}", data=json.dumps({"text": text}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                if resp.status != 200:
                    return False
        except (urllib.error.URLError, OSError):
            return False
    return True


def tracker_store(settings: Settings) -> dict:
    """In memory by default. DASI_RASA_TRACKER_URL (PostgreSQL, for several Rasa servers) keeps the
    trackers in that database, each event's data encrypted with DASI_DATA_KEY
    (assistant/rasa_project/tracker_store.py); retention and erasure purge them there
    (casebook/protection/retention.py)."""
    if not settings.rasa_tracker_url:
        return {"type": "assistant.rasa_project.tracker_store.ExpiringInMemoryTrackerStore",
                "expire_after": TRACKER_EXPIRY_SECONDS}
    u = urlparse(settings.rasa_tracker_url)
    if not u.scheme.startswith("postgres"):
        raise StartupError("DASI_RASA_TRACKER_URL must be a postgresql:// URL")
    return {"type": "assistant.rasa_project.tracker_store.EncryptedSQLTrackerStore", "dialect": "postgresql",
            "url": u.hostname, "port": u.port or 5432, "username": u.username, "password": u.password,
            "db": u.path.lstrip("/")}


def lock_store(settings: Settings) -> dict:
    """Rasa's per-conversation locks: in memory for one Rasa server; in the shared Redis for several."""
    if not settings.redis_url:
        return {"type": "in_memory"}
    u = urlparse(settings.redis_url)
    db = u.path.lstrip("/")
    return {"type": "redis", "url": u.hostname or "127.0.0.1", "port": u.port or 6379,
            "db": int(db) if db.isdigit() else 0, "password": u.password, "use_ssl": u.scheme == "rediss",
            "key_prefix": RASA_LOCK_PREFIX}


def write_endpoints(settings: Settings, name: str = "endpoints.yml") -> Path:
    path = settings.var_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"action_endpoint": {"url": f"{settings.actions_url}/webhook"}, "tracker_store": tracker_store(settings),
            "lock_store": lock_store(settings)}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    os.chmod(path, 0o600)  # may hold the tracker database's and Redis's passwords
    return path


def rasa_token(settings: Settings) -> str:
    """DASI_RASA_TOKEN, or a fresh random one for this run of `dasi up` (handed to the gateway)."""
    return settings.rasa_token or secrets.token_urlsafe(32)


def rasa_command(settings: Settings, model: Path, rasa_url: str | None = None) -> list[str]:
    """`rasa run` through assistant/rasa_project/serve.py, which adds `--auth-token` from the environment
    (DASI_RASA_TOKEN) so the token is not on the command line for every local user to read."""
    rasa = urlparse(rasa_url or settings.rasa_url)
    endpoints = write_endpoints(settings, f"endpoints-{rasa.port or 5005}.yml" if rasa_url else "endpoints.yml")
    return [str(rasa_bin().parent / "python"), "-m", "assistant.rasa_project.serve", "run", "--enable-api",
            "--model", str(model), "--endpoints", str(endpoints),
            "--credentials", str(RASA_PROJECT / "credentials.yml"),
            "--logging-config-file", str(RASA_PROJECT / "logging.yml"),  # no message text in its log
            "--interface", rasa.hostname or "127.0.0.1", "--port", str(rasa.port or 5005)]


def rasa_environment(settings: Settings, token: str) -> dict[str, str]:
    """Rasa's environment: its token and the data key (the encrypted tracker store) by environment, never
    on a command line; JSON log lines (the redacting filter reads them) and no Sanic access log (URLs
    carry the token)."""
    env = dict(rasa_env(), DASI_RASA_TOKEN=token, FORCE_JSON_LOGGING="1", LOG_LEVEL_LIBRARIES="ERROR")
    if settings.rasa_tracker_url:
        env["DASI_DATA_KEY"] = ",".join(settings.data_keys)
    if settings.redis_url:
        # A Rasa server that dies holding a conversation's lock blocks that conversation on the others
        # until the lock's lifetime ends: 15 s instead of Rasa's 60 (one turn takes well under that, and
        # the gateways already send a conversation's messages one at a time).
        env["TICKET_LOCK_LIFETIME"] = os.environ.get("TICKET_LOCK_LIFETIME") or str(RASA_LOCK_LIFETIME)
    return env


def actions_command(settings: Settings) -> list[str]:
    return [str(VENV_PY), "-m", "rasa_sdk", "--actions", "actions", "--port", str(urlparse(settings.actions_url).port
                                                                                 or 5055)]


def run_one(settings: Settings, what: str, rasa_url: str | None = None) -> int:
    """`dasi rasa` / `dasi actions`: one part in the foreground, for a Procfile or a systemd unit (the
    process manager restarts it); `dasi up` runs all three on one machine."""
    if what == "rasa":
        if not settings.rasa_token:
            raise StartupError("DASI_RASA_TOKEN must be set: every gateway needs the same token")
        argv, env = rasa_command(settings, model_path(), rasa_url), rasa_environment(settings, settings.rasa_token)
    else:
        actions = urlparse(settings.actions_url)
        argv = actions_command(settings)
        env = dict(os.environ, PYTHONPATH=str(ROOT), ANONYMIZED_TELEMETRY="False",
                   SANIC_HOST=actions.hostname or "127.0.0.1")
    os.chdir(ROOT)
    os.execve(argv[0], argv, env)
    return 0  # not reached


def children(settings: Settings) -> list[Child]:
    model = model_path()
    if not model.exists():
        raise StartupError(f"no Rasa model at {model.relative_to(ROOT)}: run `dasi train` (make run does it)")
    actions = urlparse(settings.actions_url)
    logs = settings.var_dir / "log"
    token = rasa_token(settings)
    app_env = dict(os.environ, PYTHONPATH=str(ROOT), ANONYMIZED_TELEMETRY="False")
    rasa_process_env = rasa_environment(settings, token)
    return [
        Child("actions", actions_command(settings), dict(app_env, SANIC_HOST=actions.hostname or "127.0.0.1"),
              lambda: _http_ok(f"{settings.actions_url}/health"), 120, logs / "actions.log"),
        Child("rasa", rasa_command(settings, model), rasa_process_env, lambda: _rasa_ready(settings.rasa_url, token),
              300, logs / "rasa.log"),
        Child("gateway", [str(VENV_PY), "-m", "assistant.cli.main", "gateway"], dict(app_env, DASI_RASA_TOKEN=token),
              lambda: _http_ok(f"{settings.public_url}/healthz"), 120, logs / "gateway.log"),
    ]


def up(settings: Settings, log=print) -> int:
    procs = children(settings)
    if not settings.rasa_tracker_url and (settings.var_dir / "rasa-tracker.db").exists():
        log("note: var/rasa-tracker.db is Rasa's old tracker store, conversations in plain text; Rasa keeps "
            "them in memory now. Retention still purges it; delete the file once it is no longer needed.")
    stopping = False

    def _stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        # The action server first, alone: its Sanic worker must report within 30 s or Sanic kills it,
        # which a machine busy loading Rasa's model can miss. Then Rasa and the gateway load at once
        # (until Rasa is ready the gateway answers with the emergency numbers, as when it is down).
        for batch in (procs[:1], procs[1:]):
            for child in batch:
                log(f"starting {child.name}…")
                child.start()
            for child in batch:
                child.wait_ready()
                log(f"  {child.name} is up (logs: {child.log_path})")
                if stopping:
                    return 130
        log("\ndasi is running:\n"
            f"  web chat  {settings.public_url}/\n"
            f"  console   {settings.public_url}/console\n"
            f"  health    {settings.public_url}/healthz\n"
            "Ctrl-C stops everything.")
        while not stopping:
            time.sleep(0.5)
            for child in procs:
                if child.exit_code() is not None and not stopping:
                    _restart(child, log)
        return 0
    except StartupError as exc:
        log(f"\nERROR: {exc}")
        return 1
    finally:
        log("stopping…")
        for child in reversed(procs):
            child.stop()
        log("stopped.")


def _restart(child: Child, log) -> None:
    """A crashed part is restarted (at most 5 times in 5 minutes); the gateway keeps answering
    with the emergency numbers meanwhile."""
    now = time.monotonic()
    child.restarts = [t for t in child.restarts if now - t < 300] + [now]
    if len(child.restarts) > 5:
        raise StartupError(f"{child.name} keeps crashing (exit code {child.exit_code()})\n{child.tail()}")
    log(f"ERROR: {child.name} exited with code {child.exit_code()}; restarting")
    child.start()
