"""`dasi detect classify|train`: the classifier's commands."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import IO, Any

log = logging.getLogger(__name__)


def classify_stream(src: IO[str], out: IO[str], classifier: Any = None) -> tuple[int, int]:
    """JSONL {"id","text"[,"images"]} → one JSON line per input, in input order; a bad line gets
    {"id", "error"} and the rest go on. Returns (lines, errors)."""
    if classifier is None:
        from detection.classifier.classify import Classifier

        classifier = Classifier.load()
    n = errors = 0
    for lineno, line in enumerate(src, 1):
        if not line.strip():
            continue
        n += 1
        pid: Any = None
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise ValueError("line is not a JSON object")
            pid = item.get("id")
            text = item.get("text")
            images = item.get("images") or []
            if not isinstance(text, str):
                raise ValueError("'text' must be a string")
            if not isinstance(images, list) or not all(isinstance(i, str) for i in images):
                raise ValueError("'images' must be a list of file paths")
            v = classifier.classify(text, images)
            rec = {"id": pid, "category": v.category, "youth": v.youth, "score": v.score, "reasons": v.reasons}
        except Exception as e:  # one bad post must not stop a batch of a million
            errors += 1
            msg = (f"line {lineno}: {e}" if not isinstance(e, json.JSONDecodeError)
                   else f"line {lineno}: invalid JSON ({e.msg})")
            rec = {"id": pid, "error": msg}
            log.debug("classify error on line %d: %s", lineno, type(e).__name__)
        out.write(json.dumps(rec, ensure_ascii=False) + "\n")
    out.flush()
    return n, errors


def cmd_classify(args: argparse.Namespace) -> int:
    src = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")
    try:
        n, errors = classify_stream(src, sys.stdout)
    finally:
        if src is not sys.stdin:
            src.close()
    if errors:
        print(f"{errors} of {n} line(s) could not be classified", file=sys.stderr)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from detection.classifier.train import train

    train(force=args.force)
    return 0


def register(sub: Any) -> None:
    c = sub.add_parser("classify", help="classify JSONL posts {id, text[, images]} from FILE or - (stdin)")
    c.add_argument("file", metavar="FILE|-")
    c.set_defaults(func=cmd_classify)
    t = sub.add_parser("train", help="train the detection model if its data or code changed")
    t.add_argument("--force", action="store_true")
    t.set_defaults(func=cmd_train)
