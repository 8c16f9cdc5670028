"""`roundtable keys`: API keys for remote copilots, in the OS keychain (names shown, values never)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING, Any

from app.cli.output import print_json

if TYPE_CHECKING:  # a type only: importing the context loads all of core
    from app.core.context import AppContext


def cmd_set(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.core.secrets import check_name, set_key

    check_name(args.name)
    if sys.stdin.isatty():
        value = getpass.getpass(f"Key for '{args.name}' (not shown): ")
    else:
        value = sys.stdin.readline()
    set_key(ctx.store, args.name, value)
    print(f"Saved the key '{args.name}' in the keychain.")
    return 0


def cmd_ls(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.core.secrets import key_names

    names = key_names(ctx.store)
    used = {c.api_key_name: c.id for c in ctx.copilots() if c.api_key_name}
    if args.json:
        print_json([{"name": n, "used_by": [c for k, c in used.items() if k == n]} for n in names])
    elif not names:
        print("No keys saved yet: `roundtable keys set NAME` saves one in the keychain.")
    else:
        for name in names:
            print(f"{name}" + (f"  (used by {used[name]})" if name in used else ""))
    return 0


def cmd_rm(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.core.secrets import delete_key

    delete_key(ctx.store, args.name)
    print(f"Removed the key '{args.name}' from the keychain.")
    return 0


def register(commands: Any) -> None:
    """Add `keys` to the command parser."""
    keys = commands.add_parser("keys", help="API keys for remote copilots, kept in the OS keychain")
    actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    set_parser = actions.add_parser("set", help="save a key (read from a hidden prompt, or from stdin)")
    set_parser.add_argument("name", help="a name for the key, e.g. openai-work")
    set_parser.set_defaults(handler=cmd_set)
    ls = actions.add_parser("ls", help="the names of the saved keys (never their values)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_ls)
    rm = actions.add_parser("rm", help="remove a key from the keychain")
    rm.add_argument("name")
    rm.set_defaults(handler=cmd_rm)
