"""The slang dictionary (detection/classifier/slang.yml): every entry is rewritten into its meaning in
the text the rules and the model read; no entry fires on real comments nobody here wrote; a broken edit
is refused with the entry named, and the last good dictionary stays."""
from __future__ import annotations

import os
import time

import pytest

from detection.classifier import slang
from detection.classifier.normalise import normalise
from detection.classifier.slang import SLANG_PATH, SlangDictionary, SlangError
from tests.conftest import ROOT

ENTRIES = SlangDictionary.load().entries
BENCHMARKS = ROOT.parent / "shared" / "benchmarks"


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e.kind}:{e.form}")
def test_each_entry_becomes_what_it_stands_for(entry):
    post = f"오늘 {entry.form} 문의 주세요"
    n = normalise(post)
    meaning = entry.means.replace(" ", "")
    assert meaning in n.compact.text, (entry, n.compact.text)
    # The rewritten word still points at the original characters (evidence highlights the form).
    i = n.compact.text.index(meaning)
    s, e = n.compact.span(i, i + len(meaning))
    assert post[s:e].replace(" ", "") == entry.form.replace(" ", "")


def test_no_entry_fires_on_real_comments():
    lines = []
    for name in ("korean-hate-speech/train.tsv", "nsmc-reviews/random5000.tsv", "kote/test.tsv"):
        path = BENCHMARKS / name
        if not path.exists():
            pytest.fail(f"{path} is missing: the benchmarks sit beside the repo (../shared), CI has them")
        lines += [line.split("\t")[0 if "hate" in name else -1] for line in path.read_text("utf-8").splitlines()[1:]]
    d = SlangDictionary.load()
    fired = [line for line in lines if d.pattern.search(line.lower()) or
             any(f" {f} " in f" {line} " for f in d.initials)]
    assert len(fired) <= len(lines) * 0.001, fired[:10]


@pytest.mark.parametrize("bad,message", [
    ({"entries": [{"form": "ㅈㄱ", "means": "조건"}]}, "exactly form, means and kind"),
    ({"entries": [{"form": "ㅈ가", "means": "조건", "kind": "initials"}]}, "consonant jamo"),
    ({"entries": [{"form": "Opi", "means": "오피", "kind": "latin"}]}, "lower-case"),
    ({"entries": [{"form": "조껀", "means": "조건", "kind": "typo"}]}, "kind must be"),
    ({"entries": [{"form": "조껀", "means": "조건", "kind": "spelling"}] * 2}, "listed twice"),
    ({"items": []}, "list under 'entries'"),
])
def test_a_broken_entry_is_refused_with_its_name(bad, message):
    with pytest.raises(SlangError, match=message):
        SlangDictionary.parse(bad)


def test_edits_are_picked_up_and_a_broken_edit_keeps_the_last_good_dictionary(tmp_path):
    path = tmp_path / "slang.yml"
    path.write_text(SLANG_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    assert "뽀송이" not in slang.current(path).anywhere
    path.write_text(path.read_text(encoding="utf-8") + "  - {form: 뽀송이, means: 오피, kind: trade}\n", "utf-8")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert slang.current(path).anywhere["뽀송이"] == "오피"
    path.write_text("entries: [{form: x}]\n", encoding="utf-8")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2_000_000))
    assert slang.current(path).anywhere["뽀송이"] == "오피"  # the broken edit did not replace it
