"""`roundtable keys` (API keys in the keychain) and `roundtable copilots test` (is a copilot reachable?)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from app.cli.output import print_json


def cmd_keys_set(args: argparse.Namespace, ctx: Any) -> int:
    from app.core.secrets import check_name, set_key

    check_name(args.name)
    if sys.stdin.isatty():
        value = getpass.getpass(f"Key for '{args.name}' (not shown): ")
    else:
        value = sys.stdin.readline()
    set_key(ctx.store, args.name, value)
    print(f"Saved the key '{args.name}' in the keychain.")
    return 0


def cmd_keys_ls(args: argparse.Namespace, ctx: Any) -> int:
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


def cmd_keys_rm(args: argparse.Namespace, ctx: Any) -> int:
    from app.core.secrets import delete_key

    delete_key(ctx.store, args.name)
    print(f"Removed the key '{args.name}' from the keychain.")
    return 0


def cmd_copilots_test(args: argparse.Namespace, ctx: Any) -> int:
    """Reach the copilot's backend and say what it supports; a failure exits non-zero with the reason."""
    from app.core.providers.base import CancelToken, ChatMessage, ChatRequest, Error, Sampling, TextDelta

    copilot = ctx.copilot(args.id)
    provider = ctx.provider_for(copilot)
    report: dict[str, Any] = {"copilot": copilot.id, **provider.describe()}
    report.update(_capabilities(provider))
    request = ChatRequest([ChatMessage("user", "Reply with the single word OK.")], Sampling(0.0, 1.0, 16))
    reply, error = [], None
    for event in provider.stream(request, CancelToken()):
        if isinstance(event, TextDelta):
            reply.append(event.delta)
        elif isinstance(event, Error):
            error = event
    report["answered"] = error is None
    report["reply"] = "".join(reply).strip()[:200]
    if error is not None:
        report["error"] = error.message
    if args.json:
        print_json(report)
    else:
        for key, value in report.items():
            print(f"{key:>16}: {', '.join(map(str, value)) if isinstance(value, list) else value}")
    return 0 if error is None else 8


def _capabilities(provider: Any) -> dict[str, Any]:
    """What the backend says about itself, beyond answering."""
    from app.core.providers.a2a import A2AProvider, read_card
    from app.core.providers.openai_compat import OpenAICompatProvider
    from app.core.providers.openbb import OpenBBProvider

    found: dict[str, Any] = {"native_tools": getattr(provider, "supports_tools", False)}
    if isinstance(provider, OpenAICompatProvider):
        models = provider.models()
        found["models"] = models
        found["model_offered"] = provider.model in models or not models
    elif isinstance(provider, OpenBBProvider):
        agent_id, descriptor = provider.agent()
        found["agent"] = agent_id
        found["features"] = sorted(k for k, v in (descriptor.get("features") or {}).items() if v)
    elif isinstance(provider, A2AProvider):
        card = provider.card = read_card(provider.remote)
        found["agent"] = card.get("name")
        found["streaming"] = bool((card.get("capabilities") or {}).get("streaming"))
        found["skills"] = [s.get("name", "?") for s in card.get("skills") or [] if isinstance(s, dict)]
    return found


def register(commands: Any, copilot_actions: Any) -> None:
    """Add `keys` and `copilots test` to the command parser."""
    keys = commands.add_parser("keys", help="API keys for remote copilots, kept in the OS keychain")
    actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    set_parser = actions.add_parser("set", help="save a key (read from a hidden prompt, or from stdin)")
    set_parser.add_argument("name", help="a name for the key, e.g. openai-work")
    set_parser.set_defaults(handler=cmd_keys_set)
    ls = actions.add_parser("ls", help="the names of the saved keys (never their values)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_keys_ls)
    rm = actions.add_parser("rm", help="remove a key from the keychain")
    rm.add_argument("name")
    rm.set_defaults(handler=cmd_keys_rm)

    test = copilot_actions.add_parser("test", help="reach a copilot's backend and report what it supports")
    test.add_argument("id")
    test.add_argument("--json", action="store_true")
    test.set_defaults(handler=cmd_copilots_test)
