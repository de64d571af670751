"""A whole dasi stack started the way `dasi up` starts it, in a temporary place, for the
end-to-end tests and the benchmarks."""
from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.fernet import Fernet

from tests.conftest import ROOT, free_port

DASI = ROOT / ".venv" / "bin" / "dasi"


def http(method: str, url: str, body: dict | None = None, timeout: float = 15) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.port, self.rasa_port, self.actions_port = free_port(), free_port(), free_port()
        self.var = tmp / "var"
        self.env = dict(os.environ, DASI_ENV_FILE=str(tmp / "none.env"), DASI_VAR_DIR=str(self.var),
                        DASI_DATABASE_URL=f"sqlite:///{tmp / 'e2e.db'}", DASI_DATA_KEY=Fernet.generate_key().decode(),
                        DASI_SECRET_KEY="e2e-secret", DASI_PORT=str(self.port),
                        DASI_RASA_URL=f"http://127.0.0.1:{self.rasa_port}",
                        DASI_ACTIONS_URL=f"http://127.0.0.1:{self.actions_port}",
                        # Always inside opening hours, so the handoff reply is the queue one.
                        DASI_CENTRE_HOURS="mon-sun 00:00-23:59",
                        # Every test person writes from 127.0.0.1: the address limits are for strangers.
                        DASI_WEBCHAT_RATE_PER_ADDRESS="100000/minute",
                        DASI_WEBCHAT_NEW_SESSIONS_PER_ADDRESS="100000/hour")
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        subprocess.run([str(DASI), "db", "upgrade"], env=self.env, check=True, cwd=ROOT)
        self.log = open(self.var.parent / "up.log", "wb")
        self.proc = subprocess.Popen([str(DASI), "up"], env=self.env, cwd=ROOT, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 420
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dasi up exited early:\n{self.output()}")
            if "dasi is running" in self.output():
                return
            time.sleep(1)
        raise RuntimeError(f"dasi up did not come up:\n{self.output()}")

    def output(self) -> str:
        return (self.var.parent / "up.log").read_text(errors="replace")

    def pid(self, name: str) -> int:
        return int((self.var / "run" / f"{name}.pid").read_text())

    def say(self, session: str, text: str) -> dict:
        status, data = http("POST", f"{self.url}/api/webchat/messages", {"session": session, "text": text})
        assert status == 200, data
        return data

    def stop(self) -> int:
        import signal

        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(60) if self.proc else 0


@contextmanager
def running_with_counsellor(stack: Stack, password: str, login: str = "kim") -> Iterator[Stack]:
    """Start `stack`, add the counsellor the console tests sign in as, stop the stack afterwards."""
    stack.start()
    try:
        subprocess.run([str(DASI), "users", "add", "--login", login, "--name", "김상담", "--role", "counsellor"],
                       input=password + "\n", text=True, env=stack.env, cwd=ROOT, check=True, capture_output=True)
        yield stack
    finally:
        stack.stop()
