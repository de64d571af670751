"""`dasi risk train|eval|labels export`: the risk model and the counsellors' corrections of it."""
from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from assistant.store.db import close_engines, sessionmaker
from casebook.models import RiskLabel
from casebook.staff import audit


def cmd_train(args: argparse.Namespace) -> int:
    from assistant.safety.risk.train import train

    train(force=args.force, extra=args.extra)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from assistant.safety.risk.evaluate import main

    return main([str(f) for f in args.files] + (["--by-language"] if args.by_language else []))


async def _export(path: Path) -> int:
    try:
        async with sessionmaker()() as s, s.begin():
            rows = (await s.scalars(select(RiskLabel).where(RiskLabel.text.is_not(None))
                                    .order_by(RiskLabel.id))).all()
            with path.open("w", encoding="utf-8") as out:
                for r in rows:
                    out.write(json.dumps({"id": f"label-{r.id}", "context": r.context or [], "text": r.text,
                                          "categories": r.categories, "level": r.level, "was": r.was},
                                         ensure_ascii=False) + "\n")
            audit.record(s, "cli", "risk.labels.export", "risk_label", "", count=len(rows))
        return len(rows)
    finally:
        await close_engines()


def cmd_labels_export(args: argparse.Namespace) -> int:
    """Decrypted corrections for a training run on this machine; the file holds what people wrote."""
    args.file.touch(mode=0o600)
    n = asyncio.run(_export(args.file))
    print(f"wrote {n} corrections to {args.file} (personal data: keep it on this machine, delete it after training)")
    return 0


def register(sub: Any) -> None:
    risk = sub.add_parser("risk", help="the risk model and counsellors' corrections").add_subparsers(
        dest="risk_command", required=True)
    train = risk.add_parser("train", help="train the risk model if its data or code changed")
    train.add_argument("--force", action="store_true")
    train.add_argument("--extra", type=Path, nargs="*", help="more labelled JSONL, e.g. exported corrections")
    train.set_defaults(func=cmd_train)
    ev = risk.add_parser("eval", help="right / false alarms on labelled JSONL files (the writers' format)")
    ev.add_argument("files", type=Path, nargs="+")
    ev.add_argument("--by-language", action="store_true", help="one line of figures per language too")
    ev.set_defaults(func=cmd_eval)
    labels = risk.add_parser("labels", help="corrections").add_subparsers(dest="labels_command", required=True)
    export = labels.add_parser("export", help="write counsellors' corrections as training JSONL")
    export.add_argument("file", type=Path)
    export.set_defaults(func=cmd_labels_export)
