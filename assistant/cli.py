"""The `dasi` command."""
from __future__ import annotations

import argparse
import json
import sys

from assistant.settings import ROOT, get_settings


def cmd_init(args: argparse.Namespace) -> int:
    """Everything `make run` needs, each step only when it is missing or stale."""
    from assistant.envfile import ensure_env

    added = ensure_env(ROOT / ".env.example", ROOT / ".env")
    if added:
        print(f".env: added {', '.join(added)}")
    get_settings.cache_clear()
    cmd_db_upgrade(args)
    cmd_kb_reindex(argparse.Namespace(force=False, quiet=True))
    if not args.skip_train:
        from assistant.training import train

        train()
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from casebook.migrate import upgrade

    upgrade()
    print("database schema is current")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from assistant.training import train

    train(force=args.force)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from assistant.supervisor import up

    return up(get_settings())


def cmd_gateway(args: argparse.Namespace) -> int:
    from connectors.gateway import run

    run()
    return 0


def cmd_kb_reindex(args: argparse.Namespace) -> int:
    from knowledge import index

    settings = get_settings()
    if not args.force and index.is_current(settings):
        print("knowledge index is current")
        return 0

    def progress(done: int, total: int) -> None:
        if not getattr(args, "quiet", False):
            bar = "#" * int(30 * done / total)
            print(f"\r[{bar:<30}] {done}/{total}", end="", file=sys.stderr, flush=True)

    n = index.build(settings, progress)
    print(f"\nknowledge index built: {n} documents", file=sys.stderr) if not getattr(args, "quiet", False) else \
        print(f"knowledge index built: {n} documents")
    return 0


def cmd_kb_search(args: argparse.Namespace) -> int:
    from knowledge.index import KnowledgeIndex

    hits = KnowledgeIndex(get_settings()).search(args.query, k=args.top)
    rows = [{"id": h.article.id, "title": h.article.title, "score": round(h.confidence, 4)} for h in hits]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        for r in rows:
            print(f"{r['score']:.3f}  {r['id']}  {r['title']}")
    return 0


def cmd_kb_eval(args: argparse.Namespace) -> int:
    from pathlib import Path

    from knowledge.evaluate import evaluate, load_questions
    from knowledge.index import KnowledgeIndex

    settings = get_settings()
    result = evaluate(KnowledgeIndex(settings), load_questions(Path(args.file)), mode=args.mode,
                      threshold=settings.kb_min_confidence)
    print(json.dumps(result.as_dict(), ensure_ascii=False))
    if args.show_misses:
        for q in result.misses:
            print(f"miss: {q}", file=sys.stderr)
        for q in result.wrongly_answered:
            print(f"answered, though no article answers it: {q}", file=sys.stderr)
    return 0


def cmd_kb_validate(args: argparse.Namespace) -> int:
    from knowledge.articles import ArticleError, load_articles

    try:
        articles = load_articles(get_settings().knowledge_dir, include_drafts=True)
    except ArticleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{len(articles)} articles are valid")
    return 0


def cmd_kb_import(args: argparse.Namespace) -> int:
    """All files are validated first: one invalid file and nothing is imported."""
    from pathlib import Path

    from knowledge.editing import InvalidArticles, import_dir

    try:
        changed = import_dir(get_settings(), Path(args.dir), author="cli")
    except InvalidArticles as exc:
        for err in exc.errors:
            print(err, file=sys.stderr)
        print(f"nothing imported: {len(exc.errors)} invalid file(s)", file=sys.stderr)
        return 1
    print(f"imported {len(changed)} changed article(s){': ' + ', '.join(changed) if changed else ''}")
    return 0


def cmd_kb_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from knowledge.editing import export_dir

    print(f"exported {export_dir(get_settings(), Path(args.dir))} article(s) to {args.dir}")
    return 0


def _read_password() -> str:
    """From the terminal (asked twice) or the first line of stdin, so scripts can pipe it in."""
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("password: ")
        if first != getpass.getpass("again: "):
            raise SystemExit("error: the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _users(action, *args, **kwargs):
    """Run one accounts function in a transaction, with an audit entry by `cli`."""
    import asyncio

    from casebook import audit
    from casebook.db import close_engines, sessionmaker

    async def run():
        try:
            async with sessionmaker()() as s, s.begin():
                result = await action(s, *args, **kwargs)
                if result:  # something was done
                    audit.record(s, "cli", f"users.{action.__name__}", "user", str(args[0]))
                return result
        finally:
            await close_engines()
    return asyncio.run(run())


def cmd_users_add(args: argparse.Namespace) -> int:
    from casebook import accounts

    try:
        user = _users(accounts.create_user, args.login, args.name, args.role, _read_password(), totp=args.totp)
    except accounts.AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"created {user.role} {user.login}")
    if user.totp_secret:
        print(f"TOTP: add this to the authenticator app: {accounts.totp_uri(user)}")
    return 0


def cmd_users_disable(args: argparse.Namespace) -> int:
    from casebook import accounts

    if not _users(accounts.disable_user, args.login):
        print(f"error: no user {args.login!r}", file=sys.stderr)
        return 1
    print(f"disabled {args.login} and ended their sessions")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dasi", description="dasi: outreach and counselling assistant")
    sub = p.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="create .env, database schema, knowledge index and Rasa model if missing")
    init.add_argument("--skip-train", action="store_true")
    init.set_defaults(func=cmd_init)
    sub.add_parser("up", help="start everything and wait until it is healthy").set_defaults(func=cmd_up)
    sub.add_parser("gateway", help="run only the gateway").set_defaults(func=cmd_gateway)
    train = sub.add_parser("train", help="train the Rasa model if its inputs changed")
    train.add_argument("--force", action="store_true")
    train.set_defaults(func=cmd_train)
    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)
    kb = sub.add_parser("kb", help="knowledge base").add_subparsers(dest="kb_command", required=True)
    reindex = kb.add_parser("reindex", help="rebuild the index")
    reindex.add_argument("--force", action="store_true", default=True)
    reindex.set_defaults(func=cmd_kb_reindex)
    search = kb.add_parser("search", help="search the knowledge base")
    search.add_argument("query")
    search.add_argument("--top", type=int, default=3)
    search.add_argument("--json", action="store_true")
    search.set_defaults(func=cmd_kb_search)
    kb.add_parser("validate", help="check every article's front matter").set_defaults(func=cmd_kb_validate)
    ev = kb.add_parser("eval", help="recall@1, recall@3, MRR and the share past the confidence bar on a question "
                                    "file (JSONL with q and ids; ids [] = no article answers it)")
    ev.add_argument("file")
    ev.add_argument("--mode", choices=["hybrid", "bm25", "vector"], default="hybrid")
    ev.add_argument("--show-misses", action="store_true")
    ev.set_defaults(func=cmd_kb_eval)
    kb_import = kb.add_parser("import", help="validate, copy in and index the articles of a folder")
    kb_import.add_argument("dir")
    kb_import.set_defaults(func=cmd_kb_import)
    kb_export = kb.add_parser("export", help="copy every article (drafts too) to a folder")
    kb_export.add_argument("dir")
    kb_export.set_defaults(func=cmd_kb_export)
    users = sub.add_parser("users", help="console accounts").add_subparsers(dest="users_command", required=True)
    add = users.add_parser("add", help="create an account; the password is read from stdin")
    add.add_argument("--login", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=["counsellor", "supervisor", "editor", "admin"])
    add.add_argument("--totp", action="store_true", help="require a TOTP code (supervisors and admins)")
    add.set_defaults(func=cmd_users_add)
    disable = users.add_parser("disable", help="disable an account and end its sessions")
    disable.add_argument("login")
    disable.set_defaults(func=cmd_users_disable)
    from detection.cli import register as register_detect  # owns `dasi detect ...`

    register_detect(sub)
    from casebook.stats_cli import register as register_stats  # owns `dasi stats`
    from casebook.protection_cli import register as register_protection  # `dasi keys|retention|people`

    register_stats(sub)
    register_protection(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
