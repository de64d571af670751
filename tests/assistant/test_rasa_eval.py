"""Rasa's own evaluations, run on the trained model in the Rasa virtualenv:
NLU on a held-out set nobody trained on, and the dialogue test stories."""
from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from assistant.cli.training import model_path, rasa_bin, rasa_env
from assistant.safety.screen import screen
from tests.conftest import ROOT

HELDOUT = ROOT / "tests" / "data" / "nlu_heldout.yml"
SAFETY_INTENTS = ("emergency_danger", "self_harm")


def rasa(*args: str) -> subprocess.CompletedProcess:
    model = model_path()
    if not model.exists():
        pytest.fail(f"{model} is missing: `make test` trains it first")
    return subprocess.run([str(rasa_bin()), "test", *args, "--model", str(model)], cwd=ROOT, env=rasa_env(),
                          capture_output=True, text=True, timeout=900)


def heldout_examples() -> list[tuple[str, str]]:
    data = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))
    return [(line[2:].strip(), block["intent"]) for block in data["nlu"]
            for line in block["examples"].splitlines() if line.startswith("- ")]


@pytest.fixture(scope="module")
def nlu_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("nlu")
    proc = rasa("nlu", "--nlu", str(HELDOUT), "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "intent_report.json").read_text())
    errors = json.loads((out / "intent_errors.json").read_text()) if (out / "intent_errors.json").exists() else []
    return report, errors


def test_heldout_set_is_large_and_unseen():
    examples = heldout_examples()
    assert len(examples) >= 300
    training = yaml.safe_load((ROOT / "assistant" / "rasa_project" / "data" / "nlu.yml").read_text(encoding="utf-8"))
    def unannotated(s):  # "[17살](age)" → "17살"
        return re.sub(r"\[([^\]]+)\]\([a-z_]+\)", r"\1", s)

    trained = {unannotated(line[2:].strip()) for b in training["nlu"] if "intent" in b
               for line in b["examples"].splitlines() if line.startswith("- ")}
    assert not {text for text, _ in examples} & trained


def test_nlu_macro_f1_on_the_heldout_set(nlu_report):
    report, _ = nlu_report
    print("macro F1", report["macro avg"]["f1-score"], "accuracy", report["accuracy"])
    # The conversation issue's target (held-out lines that also occur in the training data are
    # refused by test_heldout_set_is_large_and_unseen, so this is measured on unseen text).
    assert report["macro avg"]["f1-score"] >= 0.90


def test_safety_intents_are_never_missed_once_the_screen_is_counted(nlu_report):
    """Every held-out danger or self-harm message reaches the emergency reply: through the
    safety screen (which runs first), or through NLU."""
    _, errors = nlu_report
    missed_by_nlu = {e["text"] for e in errors if e["intent"] in SAFETY_INTENTS
                     and e["intent_prediction"]["name"] not in SAFETY_INTENTS}
    missed = [t for t in missed_by_nlu if not screen(t).alarmed]
    assert not missed, missed


def test_dialogue_stories(tmp_path):
    proc = rasa("core", "--stories", str(ROOT / "assistant" / "rasa_project" / "tests" / "test_stories.yml"),
                "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    failed = (tmp_path / "failed_test_stories.yml").read_text(encoding="utf-8")
    assert "None of the test stories failed" in failed, failed
