"""The `dasi` command."""
from __future__ import annotations

import argparse
import sys

from assistant.core.settings import ROOT, get_settings


def cmd_init(args: argparse.Namespace) -> int:
    """Everything `make run` needs, each step only when it is missing or stale."""
    from assistant.cli.envfile import ensure_env

    added = ensure_env(ROOT / ".env.example", ROOT / ".env")
    if added:
        print(f".env: added {', '.join(added)}")
    if "DASI_ADMIN_SECRET" in (ROOT / ".env").read_text(encoding="utf-8"):
        print("note: DASI_ADMIN_SECRET is no longer used; staff sign in to /admin/knowledge with an editor or admin "
              "account (`dasi users add --role editor`). Remove the line from .env.")
    get_settings.cache_clear()
    cmd_db_upgrade(args)
    from knowledge.cli import cmd_kb_reindex

    cmd_kb_reindex(argparse.Namespace(force=False, quiet=True))
    if not args.skip_train:
        from assistant.cli.training import train

        train()
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from assistant.store.migrate import upgrade

    upgrade()
    print("database schema is current")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from assistant.cli.training import train

    train(force=args.force)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from assistant.cli.supervisor import up

    return up(get_settings())


def cmd_rasa(args: argparse.Namespace) -> int:
    from assistant.cli.supervisor import run_one

    return run_one(get_settings(), "rasa", args.url)


def cmd_actions(args: argparse.Namespace) -> int:
    from assistant.cli.supervisor import run_one

    return run_one(get_settings(), "actions")


def cmd_gateway(args: argparse.Namespace) -> int:
    from connectors.gateway import run

    run()
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dasi", description="dasi: outreach and counselling assistant")
    sub = p.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="create .env, database schema, knowledge index and Rasa model if missing")
    init.add_argument("--skip-train", action="store_true")
    init.set_defaults(func=cmd_init)
    sub.add_parser("up", help="start everything and wait until it is healthy").set_defaults(func=cmd_up)
    sub.add_parser("gateway", help="run only the gateway").set_defaults(func=cmd_gateway)
    rasa = sub.add_parser("rasa", help="run only a Rasa server (DASI_RASA_TOKEN must be set)")
    rasa.add_argument("--url", help="this server's address (default DASI_RASA_URL), e.g. http://0.0.0.0:5006")
    rasa.set_defaults(func=cmd_rasa)
    sub.add_parser("actions", help="run only the action server").set_defaults(func=cmd_actions)
    train = sub.add_parser("train", help="train the Rasa model if its inputs changed")
    train.add_argument("--force", action="store_true")
    train.set_defaults(func=cmd_train)
    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)
    # Each package owns its commands: `dasi kb`, `dasi users|stats|keys|retention|people`, `dasi detect`.
    from casebook.cli import register as register_casebook
    from detection.cli import register as register_detection
    from knowledge.cli import register as register_knowledge

    register_knowledge(sub)
    register_casebook(sub)
    register_detection(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
