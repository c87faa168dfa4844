"""CLI commands for console accounts: create-user, set-password, disable-user, unlock-user (operator tasks)."""

from __future__ import annotations

import json
import sys

from lib.auth import accounts
from lib.auth.permissions import ROLES
from lib.cli.args import text_arg


def _password() -> str:
    """The first line of standard input (never an argument: it would show in `ps` and shell history)."""
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise accounts.AccountError("no password on standard input (pipe it in: --password-stdin)")
    return password


def cmd_create_user(args, rt) -> int:
    user = accounts.create_user(
        rt.engine,
        None,
        args.username,
        _password(),
        args.role,
        name=args.name,
        email=args.email,
        litellm_user_id=args.litellm_user_id,
    )
    print(json.dumps({"created": user.username, "role": user.role}))
    return 0


def cmd_set_password(args, rt) -> int:
    accounts.set_password(rt.engine, None, args.username, _password())
    print(json.dumps({"password_set": args.username}))
    return 0


def _unchanged(change) -> str | None:
    """Run `change`; an account already as asked is no error for a script: its reason, for the JSON line."""
    try:
        change()
    except accounts.Unchanged as exc:
        return str(exc)
    return None


def cmd_disable_user(args, rt) -> int:
    unchanged = _unchanged(lambda: accounts.set_enabled(rt.engine, None, args.username, False))
    print(json.dumps({"disabled": args.username} | ({"unchanged": unchanged} if unchanged else {})))
    return 0


def cmd_unlock_user(args, rt) -> int:
    unchanged = _unchanged(lambda: accounts.unlock(rt.engine, None, args.username))
    print(json.dumps({"unlocked": args.username} | ({"unchanged": unchanged} if unchanged else {})))
    return 0


def add_user_commands(sub) -> None:
    username = text_arg(64)  # the limits of the users table's columns (lib/auth/accounts.py)
    c = sub.add_parser("create-user", help="create a console login (password read from stdin)")
    c.add_argument("--username", required=True, type=username)
    c.add_argument("--role", choices=ROLES, required=True)
    c.add_argument("--name", type=text_arg(128))
    c.add_argument("--email", type=text_arg(256))
    c.add_argument("--litellm-user-id", type=text_arg(256), help="LiteLLM user id whose usage 'My usage' shows")
    c.add_argument("--password-stdin", action="store_true", required=True)
    c.set_defaults(func=cmd_create_user)
    p = sub.add_parser("set-password", help="set a user's password (read from stdin)")
    p.add_argument("--username", required=True, type=username)
    p.add_argument("--password-stdin", action="store_true", required=True)
    p.set_defaults(func=cmd_set_password)
    d = sub.add_parser("disable-user", help="disable a login (its sessions end)")
    d.add_argument("--username", required=True, type=username)
    d.set_defaults(func=cmd_disable_user)
    u = sub.add_parser("unlock-user", help="end a login's lockout after failed logins")
    u.add_argument("--username", required=True, type=username)
    u.set_defaults(func=cmd_unlock_user)
