"""`dasi users ...`: console accounts, created, disabled, their passwords reset and TOTP set up on the server."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from casebook.staff import accounts


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

    from assistant.store.db import close_engines, sessionmaker
    from casebook.staff import audit

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
    try:
        user = _users(accounts.create_user, args.login, args.name, args.role, _read_password(), totp=args.totp)
    except accounts.AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"created {user.role} {user.login}")
    if user.totp_secret:
        print(f"TOTP: add this to the authenticator app: {accounts.totp_uri(user)}")
    return 0


def _renew(login: str, change: Any, *values: str) -> Any:
    """Apply a password or TOTP reset; prints the error and returns None when it cannot."""
    try:
        user = _users(change, login, *values)
    except accounts.AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    if user is None:
        print(f"error: no user {login!r}", file=sys.stderr)
    return user


def cmd_users_password(args: argparse.Namespace) -> int:
    """A forgotten or leaked password: the new one from stdin; the user is signed out everywhere."""
    if _renew(args.login, accounts.reset_password, _read_password()) is None:
        return 1
    print(f"set a new password for {args.login} and ended their sessions")
    return 0


def cmd_users_totp(args: argparse.Namespace) -> int:
    """A supervisor or admin without TOTP (or with a lost phone): a new secret; the old codes stop working."""
    user = _renew(args.login, accounts.reset_totp)
    if user is None:
        return 1
    print(f"new TOTP for {args.login}; their sessions ended")
    print(f"TOTP: add this to the authenticator app: {accounts.totp_uri(user)}")
    return 0


def cmd_users_disable(args: argparse.Namespace) -> int:
    if not _users(accounts.disable_user, args.login):
        print(f"error: no user {args.login!r}", file=sys.stderr)
        return 1
    print(f"disabled {args.login} and ended their sessions")
    return 0


def register(sub: Any) -> None:
    users = sub.add_parser("users", help="console accounts").add_subparsers(dest="users_command", required=True)
    add = users.add_parser("add", help="create an account; the password is read from stdin")
    add.add_argument("--login", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=["counsellor", "supervisor", "editor", "admin"])
    add.add_argument("--totp", action="store_true", help="require a TOTP code (required for supervisors and admins)")
    add.set_defaults(func=cmd_users_add)
    password = users.add_parser("password", help="set a new password (read from stdin) and end the user's sessions")
    password.add_argument("login")
    password.set_defaults(func=cmd_users_password)
    totp = users.add_parser("totp", help="set up (or replace) a supervisor's or admin's TOTP and print its link")
    totp.add_argument("login")
    totp.set_defaults(func=cmd_users_totp)
    disable = users.add_parser("disable", help="disable an account and end its sessions")
    disable.add_argument("login")
    disable.set_defaults(func=cmd_users_disable)
