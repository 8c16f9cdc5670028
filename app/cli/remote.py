"""`roundtable keys` (API keys in the keychain), `roundtable tools` (MCP servers), and the copilot commands that
reach past this machine: `copilots test` (is it reachable?) and `copilots grant` (may it use a tool?)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from app.cli.common import workspace_id
from app.cli.output import print_json, terminal_safe


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
        for key, value in report.items():  # the reply, error, agent name, skills and models are the server's words
            shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            print(f"{key:>16}: {terminal_safe(shown)}")
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


def cmd_tools_add(args: argparse.Namespace, ctx: Any) -> int:
    from app.core.errors import UsageError
    from app.core.tools.mcp import McpServer

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise UsageError("Give the server's command after --, e.g. `roundtable tools add files -- npx server-files`.")
    if not args.name.replace("-", "").replace("_", "").isalnum() or "__" in args.name:
        raise UsageError(f"'{args.name}' is not a tool server name: use letters, digits, '-' or '_'.")
    tools = McpServer(args.name, command).list_tools()  # a server that does not start is not registered
    ctx.store.add_tool_server(args.name, command)
    names = terminal_safe(", ".join(t.name for t in tools))  # the server names its tools
    print(f"Registered '{args.name}' with {len(tools)} tools: {names}.")
    print(f"Let a copilot use them with `roundtable copilots grant COPILOT {args.name}`.")
    return 0


def cmd_tools_ls(args: argparse.Namespace, ctx: Any) -> int:
    from app.core.tools.mcp import McpServer, ToolError

    listing = []
    for name, command in ctx.store.tool_servers().items():
        entry: dict[str, Any] = {"name": name, "command": command}
        try:
            entry["tools"] = [
                {"name": t.name, "description": t.description} for t in McpServer(name, command).list_tools()
            ]
        except ToolError as exc:
            entry["error"] = str(exc)
        entry["granted_to"] = [c.id for c in ctx.copilots() if any(g.split(".")[0] == name for g in c.tools)]
        listing.append(entry)
    if args.json:
        print_json(listing)
    elif not listing:
        print("No tool servers yet: `roundtable tools add NAME -- COMMAND ARGS...` registers an MCP server.")
    say = _safe_print  # tool names, descriptions and errors are the server's words
    for entry in [] if args.json else listing:
        granted = ", ".join(entry["granted_to"]) or "nobody"
        say(f"{entry['name']}: {' '.join(entry['command'])}  (granted to: {granted})")
        for tool in entry.get("tools", []):
            say(f"  {entry['name']}.{tool['name']}: {tool['description'][:80]}")
        if "error" in entry:
            say(f"  {entry['error']}")
    return 0


def cmd_tools_rm(args: argparse.Namespace, ctx: Any) -> int:
    from app.core.errors import UsageError

    if args.name not in ctx.store.tool_servers():
        raise UsageError(f"No tool server '{args.name}' (see `roundtable tools ls`).")
    ctx.store.remove_tool_server(args.name)
    print(f"Removed the tool server '{args.name}'; copilots granted it can no longer call it.")
    return 0


def _safe_print(text: str) -> None:
    """print() for text that quotes a tool server."""
    print(terminal_safe(text))


def cmd_tools_approvals(args: argparse.Namespace, ctx: Any) -> int:
    """The saved "always allow" answers: which copilot may use which tool in which workspace without asking."""
    from app.cli.output import table

    rows = ctx.store.tool_approvals(workspace_id(ctx, args.workspace))
    if args.json:
        print_json(rows)
    elif not rows:
        print("No tool is allowed always: copilots ask before each tool call (answer 'always' to save a choice).")
    else:
        table(
            ["WORKSPACE", "COPILOT", "TOOL", "ALLOWED SINCE (UTC)"],
            [
                [
                    *(terminal_safe(r[k]) for k in ("workspace", "copilot_id", "tool")),
                    r["approved_at"][:16].replace("T", " "),
                ]
                for r in rows
            ],
        )
        print("Revoke with `roundtable tools approvals revoke TOOL [--workspace W] [--copilot C]` (or --all).")
    return 0


def cmd_tools_approvals_revoke(args: argparse.Namespace, ctx: Any) -> int:
    """Forget saved "always allow" answers: one tool (or server), one copilot's, or all of a workspace's."""
    from app.core.errors import UsageError

    if (args.tool is None) == (not args.all):
        raise UsageError("Name the tool to revoke (server.tool, or a server for all its tools), or give --all.")
    workspace = workspace_id(ctx, getattr(args, "workspace", None))
    removed = ctx.store.revoke_tool_approvals(workspace, args.tool, args.copilot)
    if not removed:
        raise UsageError("No saved approval matches that: see `roundtable tools approvals`.")
    print(f"Revoked {removed} approval{'s' if removed != 1 else ''}; those tools ask again before they run.")
    return 0


def cmd_copilots_grant(args: argparse.Namespace, ctx: Any) -> int:
    from app.core.errors import UsageError

    copilot = ctx.copilot(args.id)
    server = args.tool.split(".")[0]
    if server not in ctx.store.tool_servers():
        raise UsageError(f"No tool server '{server}': register it first with `roundtable tools add {server} -- CMD`.")
    tools = [t for t in copilot.tools if t != args.tool]
    granted = not args.revoke
    if granted:
        tools.append(args.tool)
    ctx.store.save_copilot(copilot.id, copilot.name, {**copilot.model_dump(), "tools": tools})
    print(f"{copilot.id} {'may now use' if granted else 'may no longer use'} {args.tool}.")
    return 0


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

    tools = commands.add_parser("tools", help="MCP tool servers copilots may call")
    tool_actions = tools.add_subparsers(dest="tools_command", metavar="ACTION", required=True)
    add = tool_actions.add_parser("add", help="register an MCP server: tools add NAME -- COMMAND ARGS...")
    add.add_argument("name")
    add.add_argument("command", nargs=argparse.REMAINDER, help="the server's command line, after --")
    add.set_defaults(handler=cmd_tools_add)
    tls = tool_actions.add_parser("ls", help="the registered servers, their tools and who may use them")
    tls.add_argument("--json", action="store_true")
    tls.set_defaults(handler=cmd_tools_ls)
    trm = tool_actions.add_parser("rm", help="forget a tool server")
    trm.add_argument("name")
    trm.set_defaults(handler=cmd_tools_rm)
    approvals = tool_actions.add_parser("approvals", help='the tools copilots may use without asking ("always")')
    approvals.add_argument("--workspace", help="only this workspace (id or name)")
    approvals.add_argument("--json", action="store_true")
    approvals.set_defaults(handler=cmd_tools_approvals)
    approval_actions = approvals.add_subparsers(dest="approvals_command", metavar="ACTION")
    arevoke = approval_actions.add_parser("revoke", help="forget saved approvals: the tools ask again")
    arevoke.add_argument("tool", nargs="?", help="server.tool, or a server for all of its tools")
    arevoke.add_argument("--all", action="store_true", help="every saved approval (of --workspace, if given)")
    # SUPPRESS: a --workspace given before `revoke` is kept rather than reset by this parser's default
    arevoke.add_argument("--workspace", default=argparse.SUPPRESS, help="only in this workspace (id or name)")
    arevoke.add_argument("--copilot", help="only this copilot's approvals")
    arevoke.set_defaults(handler=cmd_tools_approvals_revoke)

    grant = copilot_actions.add_parser("grant", help="let a copilot use a tool server (or one tool: server.tool)")
    grant.add_argument("id")
    grant.add_argument("tool")
    grant.set_defaults(handler=cmd_copilots_grant, revoke=False)
    revoke = copilot_actions.add_parser("revoke", help="take a tool back from a copilot")
    revoke.add_argument("id")
    revoke.add_argument("tool")
    revoke.set_defaults(handler=cmd_copilots_grant, revoke=True)

    test = copilot_actions.add_parser("test", help="reach a copilot's backend and report what it supports")
    test.add_argument("id")
    test.add_argument("--json", action="store_true")
    test.set_defaults(handler=cmd_copilots_test)
