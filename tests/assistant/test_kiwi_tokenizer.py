"""The Rasa tokenizer component, run inside the real Rasa virtualenv (it cannot import here)."""
import json
import subprocess

import pytest

from tests.conftest import ROOT

RASA_PY = ROOT / ".venv-rasa" / "bin" / "python"

SCRIPT = r"""
import json, sys
from rasa.shared.nlu.training_data.message import Message
from assistant.rasa_project.kiwi_tokenizer import KiwiTokenizer
tok = KiwiTokenizer(KiwiTokenizer.get_default_config())
out = {}
for text in json.loads(sys.stdin.read()):
    tokens = tok.tokenize(Message(data={"text": text}), "text")
    out[text] = [[t.text, t.start, t.end, t.lemma, t.data.get("pos")] for t in tokens]
print(json.dumps(out, ensure_ascii=False))
"""


TEXTS = ["경찰에 신고하면 저도 처벌받아요?", "경찰에 신고하면 저도 처벌받아요", "경찰에신고하면저도처벌받아요",
         "사장이 때려요", "어제 또 때렸어요", "ㅇㅋ", "ㅠㅠ", "!!!"]


@pytest.fixture(scope="module")
def tokens() -> dict:
    """One Rasa-venv process for all texts (importing Rasa takes a while)."""
    if not RASA_PY.exists():
        pytest.fail(".venv-rasa is missing: run `make test`, which creates it")
    proc = subprocess.run([str(RASA_PY), "-c", SCRIPT], input=json.dumps(TEXTS), capture_output=True, text=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_morphemes_with_offsets_into_the_original_text(tokens):
    text = TEXTS[0]
    forms = [t[0] for t in tokens[text]]
    assert "경찰" in forms and "신고" in forms and "처벌" in forms
    for _form, start, end, _lemma, _pos in tokens[text]:
        assert 0 <= start < end <= len(text)
    assert "?" not in forms  # punctuation is dropped


def test_spacing_free_text_splits_like_spaced_text(tokens):
    def nouns(toks):
        return [t[0] for t in toks if t[4].startswith("NN")]

    assert nouns(tokens[TEXTS[1]]) == nouns(tokens[TEXTS[2]]) == ["경찰", "신고", "처벌"]


def test_verb_lemmas_share_a_stem_across_endings(tokens):
    def lemmas(toks):
        return {t[3] for t in toks}

    assert "때리다" in lemmas(tokens["사장이 때려요"]) & lemmas(tokens["어제 또 때렸어요"])


def test_jamo_and_emoji_messages_still_have_tokens(tokens):
    assert tokens["ㅇㅋ"] and tokens["ㅠㅠ"] and tokens["!!!"]
