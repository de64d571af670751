"""Trains the Rasa model in the Rasa virtualenv, only when its inputs changed."""
from __future__ import annotations

import hashlib
import os
import subprocess
import time
from pathlib import Path

from assistant.core.settings import ROOT

PROJECT = ROOT / "assistant" / "rasa_project"
MODELS = ROOT / "models"
RASA_VENV = ROOT / ".venv-rasa"
# Everything that changes what the model does.
INPUTS = [PROJECT / "config.yml", PROJECT / "domain.yml", PROJECT / "kiwi_tokenizer.py",
          ROOT / "requirements-rasa.txt"]


def rasa_bin() -> Path:
    path = RASA_VENV / "bin" / "rasa"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make run` or `make test` to create the Rasa virtualenv")
    return path


def rasa_env() -> dict[str, str]:
    """Environment for every Rasa process: offline, no telemetry, our tokenizer importable."""
    env = dict(os.environ)
    env.update({"PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2",
                "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"})
    return env


def fingerprint() -> str:
    h = hashlib.sha256()
    files = INPUTS + sorted((PROJECT / "data").glob("*.yml"))
    for p in files:
        h.update(p.relative_to(ROOT).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def model_path() -> Path:
    return MODELS / f"dasi-{fingerprint()}.tar.gz"


def train(force: bool = False, log=print) -> Path:
    target = model_path()
    if target.exists() and not force:
        log(f"Rasa model is current: {target.relative_to(ROOT)}")
        return target
    MODELS.mkdir(exist_ok=True)
    log("Training the Rasa model (its data or config changed)…")
    started = time.monotonic()
    subprocess.run([str(rasa_bin()), "train", "--config", "assistant/rasa_project/config.yml",
                    "--domain", "assistant/rasa_project/domain.yml", "--data", "assistant/rasa_project/data",
                    "--out", str(MODELS), "--fixed-model-name", target.name[:-7]],
                   cwd=ROOT, env=rasa_env(), check=True)
    for old in MODELS.glob("dasi-*.tar.gz"):
        if old != target:
            old.unlink()
    log(f"Trained {target.relative_to(ROOT)} in {time.monotonic() - started:.0f} s")
    return target
