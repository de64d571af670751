"""`dasi detect classify|train`: the classifier's commands."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import IO, Any

log = logging.getLogger(__name__)


BATCH = 256  # lines classified together: the second pass embeds a batch's candidates in one call


def classify_stream(src: IO[str], out: IO[str], classifier: Any = None) -> tuple[int, int]:
    """JSONL {"id","text"[,"images"]} → one JSON line per input, in input order; a bad line gets
    {"id", "error"} and the rest go on. Returns (lines, errors)."""
    if classifier is None:
        from detection.classifier.classify import Classifier

        classifier = Classifier.load()
    n = errors = 0
    batch: list[tuple[int, Any, str, list[str]] | dict] = []  # parsed posts, or the error record of a bad line

    def flush() -> None:
        nonlocal errors
        posts = [b for b in batch if isinstance(b, tuple)]
        try:
            verdicts = iter(classifier.classify_many([(text, images) for _, _, text, images in posts]))
        except Exception:  # one unreadable image must not cost the batch: classify its posts one by one
            verdicts = iter(_one_by_one(classifier, posts))
        for item in batch:
            if isinstance(item, dict):
                rec = item
            else:
                v = next(verdicts)
                if isinstance(v, dict):  # the error of that one post
                    errors += 1
                    rec = v
                else:
                    rec = {"id": item[1], "category": v.category, "youth": v.youth, "score": v.score,
                           "reasons": v.reasons}
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
        batch.clear()

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
            batch.append((lineno, pid, text, images))
        except (ValueError, json.JSONDecodeError) as e:
            errors += 1
            msg = (f"line {lineno}: {e}" if not isinstance(e, json.JSONDecodeError)
                   else f"line {lineno}: invalid JSON ({e.msg})")
            batch.append({"id": pid, "error": msg})
        if len(batch) >= BATCH:
            flush()
    flush()
    out.flush()
    return n, errors


def _one_by_one(classifier: Any, posts: list[tuple[int, Any, str, list[str]]]) -> list[Any]:
    out: list[Any] = []
    for lineno, pid, text, images in posts:
        try:
            out.append(classifier.classify(text, images))
        except Exception as e:  # one bad post must not stop a batch of a million
            log.debug("classify error on line %d: %s", lineno, type(e).__name__)
            out.append({"id": pid, "error": f"line {lineno}: {e}"})
    return out


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


def cmd_retrain(args: argparse.Namespace) -> int:
    """Train on the repository's data plus every review decision; compare with the installed model on the
    current blind set; install only if it is not worse (unless --force)."""
    import joblib

    from assistant.core.settings import get_settings
    from detection.classifier.classify import Classifier
    from detection.classifier.evaluate import BLIND, read_jsonl, scores
    from detection.classifier.features import model_path
    from detection.classifier.train import train
    from detection.storage import queries as store

    settings = get_settings()
    blind = [row for path in sorted(BLIND.glob("*.jsonl")) for row in read_jsonl(path)]
    if not blind:
        print(f"no blind set in {BLIND}: nothing to compare with, nothing installed", file=sys.stderr)
        return 2
    with store.session(settings) as s:
        staff = store.labelled(s)
    installed = model_path(settings)
    before = scores(Classifier(joblib.load(installed), settings=settings), blind) if installed.exists() else None
    candidate = installed.with_name("detection-model.candidate.joblib")
    train(settings, force=True, staff=staff, path=candidate)
    after = scores(Classifier(joblib.load(candidate), settings=settings), blind)
    for name, s_ in (("installed", before), ("retrained", after)):
        if s_ is not None:
            print(f"{name:9}: blind n={s_['n']} macro-F1 {s_['macro_f1']:.4f} per class {s_['per_class']} "
                  f"youth recall {s_['youth_recall']:.3f} (n={s_['youth_n']})")
    print(f"trained with {len(staff)} review decision(s)")
    if before is not None and after["macro_f1"] < before["macro_f1"] and not args.force:
        candidate.unlink()
        print("not installed: the retrained model is worse on the blind set (--force installs it anyway)",
              file=sys.stderr)
        return 1
    candidate.replace(installed)
    print(f"installed {installed}")
    return 0


def register(sub: Any) -> None:
    c = sub.add_parser("classify", help="classify JSONL posts {id, text[, images]} from FILE or - (stdin)")
    c.add_argument("file", metavar="FILE|-")
    c.set_defaults(func=cmd_classify)
    t = sub.add_parser("train", help="train the detection model if its data or code changed")
    t.add_argument("--force", action="store_true")
    t.set_defaults(func=cmd_train)
    r = sub.add_parser("retrain", help="train with the review decisions; install if not worse on the blind set")
    r.add_argument("--force", action="store_true", help="install even if worse on the blind set")
    r.set_defaults(func=cmd_retrain)
