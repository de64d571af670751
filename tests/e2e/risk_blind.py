"""The risk assessment end to end, the way the issue measures it: every item of a labelled JSONL set sent
through the web chat of a whole stack (gateway, real Rasa, action server), one new chat session per item,
its earlier messages first.

    .venv/bin/python -m tests.e2e.risk_blind FILE [FILE ...] [--out RESULT.json]

A crisis item is right when the reply to its last message carries the number the situation needs
(assistant.safety.risk.evaluate.NUMBERS) and the conversation's risk is then high or critical. An ordinary
item is a false alarm when its last message raised the conversation to high or critical (a conversation
already raised by an earlier message in the item is not counted again). Prints per category and the
confusion; never prints message text.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path

from assistant.core.risk import ALARM_LEVELS
from assistant.safety.risk.data import read
from assistant.safety.risk.evaluate import has_number
from assistant.safety.risk.text import CATEGORIES
from tests.stack import Stack


def run(files: list[Path]) -> dict:
    items = [i for f in files for i in read(f)]
    right, total, confusion = Counter(), Counter(), Counter()
    ordinary = false_alarms = 0
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp))
        stack.env["DASI_RASA_TIMEOUT"] = "20"  # a loaded machine's slowness is not what this measures
        stack.start()
        try:
            for item in items:
                session = "blind-" + uuid.uuid4().hex
                before = "none"
                for earlier in item.context:
                    before = stack.say(session, earlier)["risk"]
                answer = stack.say(session, item.text)
                alarm = answer["risk"] in ALARM_LEVELS
                if not item.categories:
                    ordinary += 1
                    raised = alarm and before not in ALARM_LEVELS
                    false_alarms += raised
                    confusion[("none", "alarm" if raised else "none")] += 1
                    continue
                for c in item.categories:
                    total[c] += 1
                    ok = alarm and has_number(c, answer["replies"])
                    right[c] += ok
                    confusion[(c, "right" if ok else ("alarm, other number" if alarm else "missed"))] += 1
        finally:
            stack.stop()
    return {"per_category": {c: {"n": total[c], "right": round(right[c] / total[c], 3)}
                             for c in CATEGORIES if total[c]},
            "ordinary": ordinary, "false_alarm_rate": round(false_alarms / ordinary, 4) if ordinary else None,
            "confusion": {f"{a}: {b}": n for (a, b), n in sorted(confusion.items())}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.e2e.risk_blind")
    ap.add_argument("files", type=Path, nargs="+")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    result = run(args.files)
    text = json.dumps(result, ensure_ascii=False, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
