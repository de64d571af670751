"""How `dasi up` starts Rasa (assistant/cli/supervisor.py): with an API token kept off the command line,
a tracker store in memory (no plain-text SQL copy of every conversation by default) and a logging
config that keeps message text out of Rasa's log."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

from assistant.cli import supervisor
from assistant.core.settings import get_settings
from assistant.rasa_project import serve
from tests.conftest import ROOT

RASA_PY = ROOT / ".venv-rasa" / "bin" / "python"


@pytest.fixture
def rasa_children(env, tmp_path, monkeypatch):
    """supervisor.children() with a stand-in model and Rasa virtualenv; returns {name: Child}."""
    model = tmp_path / "dasi-test.tar.gz"
    model.write_bytes(b"")
    monkeypatch.setattr(supervisor, "model_path", lambda: model)
    monkeypatch.setattr(supervisor, "rasa_bin", lambda: tmp_path / "venv-rasa" / "bin" / "rasa")

    def make(**settings: str) -> dict[str, supervisor.Child]:
        env(**settings)
        return {c.name: c for c in supervisor.children(get_settings())}
    return make


def _arg(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_rasa_gets_an_auth_token_the_gateway_shares_and_no_command_line_shows(rasa_children):
    first = rasa_children()
    rasa, gateway = first["rasa"], first["gateway"]
    token = rasa.env["DASI_RASA_TOKEN"]
    assert len(token) >= 32 and gateway.env["DASI_RASA_TOKEN"] == token
    assert "assistant.rasa_project.serve" in rasa.argv  # the launcher that passes --auth-token
    assert not any(token in a for c in first.values() for a in c.argv)  # `ps` shows every argv
    assert serve.rasa_argv(rasa.argv[3:], rasa.env)[-2:] == ["--auth-token", token]
    assert rasa_children()["rasa"].env["DASI_RASA_TOKEN"] != token  # a fresh one per `dasi up`
    fixed = rasa_children(DASI_RASA_TOKEN="configured-token")
    assert fixed["rasa"].env["DASI_RASA_TOKEN"] == fixed["gateway"].env["DASI_RASA_TOKEN"] == "configured-token"


def test_the_launcher_adds_the_token_only_when_there_is_one():
    assert serve.rasa_argv(["run", "--enable-api"], {"DASI_RASA_TOKEN": "t0k"}) == [
        "rasa", "run", "--enable-api", "--auth-token", "t0k"]
    assert serve.rasa_argv(["run"], {}) == ["rasa", "run"]


def test_endpoints_keep_trackers_in_memory_unless_a_database_is_configured(rasa_children, env):
    rasa = rasa_children()["rasa"]
    endpoints = yaml.safe_load(Path(_arg(rasa.argv, "--endpoints")).read_text())
    assert endpoints["tracker_store"] == {"type": "assistant.rasa_project.tracker_store.ExpiringInMemoryTrackerStore",
                                          "expire_after": 3600}
    assert endpoints["lock_store"] == {"type": "in_memory"}
    assert "SQL" not in json.dumps(endpoints)
    env(DASI_RASA_TRACKER_URL="postgresql://rasa:pw@db.internal:5433/rasa")  # several Rasa servers
    store = supervisor.tracker_store(get_settings())
    assert store["type"] == "assistant.rasa_project.tracker_store.EncryptedSQLTrackerStore"
    assert store["dialect"] == "postgresql" and store["port"] == 5433 and store["db"] == "rasa"


def test_rasa_runs_with_the_redacting_logging_config(rasa_children):
    rasa = rasa_children()["rasa"]
    path = Path(_arg(rasa.argv, "--logging-config-file"))
    assert path == ROOT / "assistant" / "rasa_project" / "logging.yml" and path.exists()
    assert rasa.env["FORCE_JSON_LOGGING"] == "1" and rasa.env["LOG_LEVEL_LIBRARIES"] == "ERROR"


LOGGING_SCRIPT = r"""
import json, logging, logging.config, sys, yaml
logging.config.dictConfig(yaml.safe_load(open("assistant/rasa_project/logging.yml")))
logging.getLogger("rasa").setLevel(logging.DEBUG)  # as Rasa does with LOG_LEVEL=DEBUG
rest = logging.getLogger("rasa.core.channels.rest")
rest.setLevel(logging.DEBUG)
rest.error(json.dumps({"text": "비밀 이야기 010-1234-5678", "event": "rest.message.received.timeout",
                       "level": "error", "exception": [{"exc_type": "CancelledError", "exc_value": "x",
                                                        "frames": [{"locals": {"text": "비밀 이야기"}}]}]},
                      ensure_ascii=False))
rest.debug("Received user message '비밀 이야기' with intent ...")
logging.getLogger("rasa.server").info("GET /status?token=abc123&x=1")
logging.getLogger().warning("root lines are not Rasa's")
"""


def test_the_logging_config_loads_and_drops_message_text():
    """Rasa ignores a logging config that fails to load (it says so only at debug level), so load it here
    (in a separate process: dictConfig resets logging), then log what Rasa 3.6 logs when a message times
    out: the structured event with the text and, with an exception, every frame's local variables."""
    proc = subprocess.run([sys.executable, "-c", LOGGING_SCRIPT], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    logged = proc.stdout + proc.stderr
    assert "rest.message.received.timeout" in logged and "CancelledError" in logged
    assert "비밀" not in logged and "010-1234" not in logged and "abc123" not in logged
    assert "token=***" in logged


def test_readiness_checks_send_the_token(monkeypatch):
    seen: list[str] = []

    class Rasa(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append(self.path)
            ok = self.path.endswith("?token=s%2Fecret")
            self.send_response(200 if ok else 401)
            self.end_headers()
            self.wfile.write(json.dumps({"model_file": "m.tar.gz"}).encode())

        do_GET = do_POST = _answer

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Rasa)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        assert not supervisor._rasa_ready(url)
        assert supervisor._rasa_ready(url, "s/ecret")
    finally:
        server.shutdown()
    assert seen[-1].startswith("/model/parse?token=")


def run_in_rasa_venv(script: str) -> str:
    if not RASA_PY.exists():
        pytest.fail(".venv-rasa is missing: run `make test`, which creates it")
    proc = subprocess.run([str(RASA_PY), "-c", script], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "FORCE_JSON_LOGGING": "1"},
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_trackers_are_forgotten_when_idle():
    """The tracker store itself, inside the Rasa virtualenv (it imports Rasa)."""
    script = """
import asyncio, time
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from assistant.rasa_project.tracker_store import ExpiringInMemoryTrackerStore

async def main():
    store = ExpiringInMemoryTrackerStore(None, host=None, expire_after=0.3)
    await store.save(DialogueStateTracker.from_events("a", [UserUttered("hello")]))
    assert (await store.retrieve("a")) is not None
    time.sleep(0.5)
    await store.save(DialogueStateTracker.from_events("b", [UserUttered("hi")]))
    assert (await store.retrieve("a")) is None and list(await store.keys()) == ["b"]
    print("ok")

asyncio.run(main())
"""
    assert run_in_rasa_venv(script).strip().endswith("ok")


CHANNEL_SCRIPT = """
import asyncio, json, socket
import aiohttp
from sanic import Sanic
from rasa.core.channels.channel import register
from rasa.core.run import create_http_input_channels
from assistant.rasa_project import rest_channel

class Agent:  # stands in for Rasa's agent: echoes the message
    async def handle_message(self, message):
        await message.output_channel.send_text_message(message.sender_id, "답: " + message.text)

async def main():
    rest_channel.require_token("s3cret/token")  # as serve.py does
    app = Sanic("channel_test", configure_logging=False)
    app.ctx.agent = Agent()
    register(create_http_input_channels(None, "assistant/rasa_project/credentials.yml"), app, route="/webhooks/")
    sock = socket.socket(); sock.bind(("127.0.0.1", 0)); port = sock.getsockname()[1]; sock.close()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    out = {}
    async with aiohttp.ClientSession() as http:
        for name, params in (("none", {}), ("wrong", {"token": "s3cret"}), ("right", {"token": "s3cret/token"})):
            async with http.post(f"http://127.0.0.1:{port}/webhooks/rest/webhook", params=params,
                                 json={"sender": "c1", "message": "안녕"}) as r:
                out[name] = [r.status, await r.json()]
    server.close()
    print(json.dumps(out, ensure_ascii=False))

asyncio.run(main())
"""


def test_rasas_rest_channel_needs_the_token_too():
    """`--auth-token` guards Rasa's API, not its channels: the REST channel the gateway asks checks it itself
    (credentials.yml names it), so no local process can talk to the bot as a conversation."""
    out = json.loads(run_in_rasa_venv(CHANNEL_SCRIPT).strip().splitlines()[-1])
    assert out["none"][0] == out["wrong"][0] == 401
    assert out["right"] == [200, [{"recipient_id": "c1", "text": "답: 안녕"}]]


RASA_LOGGING_SCRIPT = """
import logging
from rasa.utils.common import configure_logging_and_warnings
from rasa.utils.log_utils import configure_structlog
configure_logging_and_warnings(logging.INFO, "assistant/rasa_project/logging.yml", warn_only_once=True,
                               filter_repeated_logs=True)  # as `rasa run --logging-config-file` does
configure_structlog(logging.INFO)
code = '''
import structlog
structlogger = structlog.get_logger()
def timeout(text):
    structlogger.error("rest.message.received.timeout", text=text)
def failure(text):
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        structlogger.exception("rest.message.received.failure", text=text)
'''
rest = {"__name__": "rasa.core.channels.rest"}  # Rasa's own module, as far as logging can tell
exec(code, rest)
rest["timeout"]("비밀 이야기 010-1234-5678")
rest["failure"]("비밀 이야기 010-1234-5678")
"""


def test_rasas_own_structured_log_lines_lose_the_text():
    """The same with Rasa's real logging set-up (structlog as Rasa 3.6 configures it, JSON lines)."""
    logged = run_in_rasa_venv(RASA_LOGGING_SCRIPT)
    assert "rest.message.received.timeout" in logged and "RuntimeError" in logged
    assert "비밀" not in logged and "010-1234" not in logged
