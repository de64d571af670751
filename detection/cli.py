"""`dasi detect ...`: this module owns the `detect` group.

`classify` lives here; `detection/pipeline_cli.py` (scan, report, stats) adds its commands through
its own `register(detect_subparsers)` when it is importable.
"""
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
        from detection.classify import Classifier

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
            msg = f"line {lineno}: {e}" if not isinstance(e, json.JSONDecodeError) else f"line {lineno}: invalid JSON ({e.msg})"
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
    from detection.train import train

    train(force=args.force)
    return 0


def register(subparsers: Any) -> Any:
    """Add the `detect` group to `dasi`; returns its subparsers so others may add to it."""
    detect = subparsers.add_parser("detect", help="find prostitution ads and the luring of minors in posts")
    sub = detect.add_subparsers(dest="detect_command", required=True)
    c = sub.add_parser("classify", help="classify JSONL posts {id, text[, images]} from FILE or - (stdin)")
    c.add_argument("file", metavar="FILE|-")
    c.set_defaults(func=cmd_classify)
    t = sub.add_parser("train", help="train the detection model if its data or code changed")
    t.add_argument("--force", action="store_true")
    t.set_defaults(func=cmd_train)
    try:
        from detection import pipeline_cli  # the other half of issue 8: scan, report, stats
    except ModuleNotFoundError as e:
        if e.name != "detection.pipeline_cli":  # a broken import inside it must not vanish silently
            raise
        pipeline_cli = None
    if pipeline_cli is not None and hasattr(pipeline_cli, "register"):
        pipeline_cli.register(sub)
    return sub
