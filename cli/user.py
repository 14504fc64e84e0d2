"""`shangluo user add|list|disable`: the portal's accounts.  A password is read from standard
input (typed twice on a terminal), never taken as an argument."""
from __future__ import annotations

import sys

from .common import EXIT_OK, EXIT_USAGE, say


def _password() -> str:
    if sys.stdin.isatty():
        import getpass
        first = getpass.getpass("密码 / password: ")
        if getpass.getpass("再输入一次 / again: ") != first:
            raise ValueError("两次输入的密码不一致 / the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def cmd_user(args) -> int:
    from portal import auth
    if args.action == "list":
        for u in auth.list_users():
            say(f"{u['name']}\t{u['county']}\t{u['role']}\t{'disabled' if u['disabled'] else 'active'}\t{u['created_at']}")
        return EXIT_OK
    if not args.name:
        say("需要用户名 / a user name is needed")
        return EXIT_USAGE
    if args.action == "disable":
        if not auth.disable_user(args.name):
            say(f"没有这个用户 / no such user: {args.name}")
            return EXIT_USAGE
        say(f"已停用 / disabled: {args.name}")
        return EXIT_OK
    if not args.county or not args.role:
        say("需要 --county 和 --role / --county and --role are needed")
        return EXIT_USAGE
    try:
        auth.add_user(args.name, args.county, args.role, _password())
    except (auth.AccountError, ValueError) as exc:
        say(str(exc))
        return EXIT_USAGE
    say(f"已添加 / added: {args.name} ({args.role}, {args.county})")
    return EXIT_OK
