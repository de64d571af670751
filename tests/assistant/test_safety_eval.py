"""The lexicon (the assessor's fast signal and floor) measured on sets written apart from it.

earlier/crisis.jsonl / ordinary.jsonl (assistant/safety/data): the lexicon's own set; not one crisis
message may be missed by the lexicon, and at most 3% of ordinary messages may hit it. *_holdout.jsonl
(tests/data/safety): a second set, written later by someone who never saw the lexicon. The whole risk
assessment (lexicon + model + context) is measured in test_risk_assessor.py."""
import json

import pytest

from assistant.safety.screen import screen
from tests.conftest import ROOT

DATA = ROOT / "tests" / "data" / "safety"
EARLIER = ROOT / "assistant" / "safety" / "data" / "earlier"
# The holdout floor is a regression guard, not the goal: on 2026-11-25 the lexicon caught 0.588 of
# the holdout crises (the suite's own set: 1.0), which says a lexicon alone does not generalise
# (see the conversation issue's notes). Raise these as the screen improves; never lower them.
HOLDOUT_MIN_RECALL = 0.58
HOLDOUT_MAX_FALSE_ALARMS = 0.03


def load(name: str) -> list[dict]:
    path = DATA / name if (DATA / name).exists() else EARLIER / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def recall_and_false_alarms(crisis: str, ordinary: str) -> tuple[list[dict], list[dict], float, float]:
    c, o = load(crisis), load(ordinary)
    missed = [m for m in c if not screen(m["text"]).alarmed]
    alarms = [m for m in o if screen(m["text"]).alarmed]
    recall, fa = 1 - len(missed) / len(c), len(alarms) / len(o)
    print(f"\n{crisis}: {len(c)} crisis, recall {recall:.3f}; {ordinary}: {len(o)} ordinary, false alarms {fa:.2%}")
    return missed, alarms, recall, fa


def test_the_sets_are_big_enough():
    assert len(load("crisis.jsonl")) >= 150 and len(load("ordinary.jsonl")) >= 500


def test_no_crisis_message_is_missed_and_false_alarms_stay_under_3_percent():
    missed, alarms, _, fa = recall_and_false_alarms("crisis.jsonl", "ordinary.jsonl")
    assert not missed, [m["text"] for m in missed]
    assert fa <= 0.03, [m["text"] for m in alarms]


def test_holdout_set_written_without_seeing_the_lexicon():
    missed, alarms, recall, fa = recall_and_false_alarms("crisis_holdout.jsonl", "ordinary_holdout.jsonl")
    assert recall >= HOLDOUT_MIN_RECALL, [m["text"] for m in missed]
    assert fa <= HOLDOUT_MAX_FALSE_ALARMS, [m["text"] for m in alarms]


@pytest.mark.parametrize("category,number", [("danger", "112"), ("self_harm", "109"), ("medical", "119"),
                                             ("exploitation", "112")])
def test_each_crisis_gets_the_number_it_needs(category, number):
    """The category matters, not just the alarm: self-harm must get 109, an injury 119."""
    from assistant.safety.emergency import screen_replies

    wrong = [m["text"] for m in load("crisis.jsonl") if m["category"] == category
             and number not in " ".join(r["text"] for r in screen_replies(screen(m["text"]).categories))]
    assert not wrong, wrong
