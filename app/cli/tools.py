"""`roundtable tools`: MCP tool servers copilots may call, and the saved "always allow" answers."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from app.cli.common import workspace_id
from app.cli.output import print_json, safe_print, terminal_safe

if TYPE_CHECKING:  # a type only: importing the context loads all of core
    from app.core.context import AppContext


def cmd_add(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.core.errors import UsageError
    from app.core.tools import builtin
    from app.core.tools.mcp import McpServer, RemoteServer, check_remote

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if bool(command) == bool(args.url):
        raise UsageError(
            "Give the server's command after -- (`roundtable tools add files -- npx server-files`) "
            "or its URL (`roundtable tools add search --url https://host/mcp`), one of the two."
        )
    if not args.name.replace("-", "").replace("_", "").isalnum() or "__" in args.name:
        raise UsageError(f"'{args.name}' is not a tool server name: use letters, digits, '-' or '_'.")
    if args.name == builtin.SERVER:
        raise UsageError(f"'{builtin.SERVER}' is the name of Roundtable's own tools: choose another name.")
    remote = None
    if args.url:
        remote = check_remote(args.name, RemoteServer(args.url, _headers(args.header), args.token_key))
    server = McpServer(args.name, remote or command)
    server.stop()  # registered again under its name: a session on the old command or URL must not answer for it
    tools = server.list_tools()  # a server that does not start is not registered
    ctx.store.add_tool_server(args.name, command, remote.to_json() if remote else None)
    names = terminal_safe(", ".join(t.name for t in tools))  # the server names its tools
    print(f"Registered '{args.name}' with {len(tools)} tools: {names}.")
    print(f"Let a copilot use them with `roundtable copilots grant COPILOT {args.name}`.")
    return 0


def _headers(given: list[str]) -> dict[str, str]:
    """`Name: value` options as a dict; a secret belongs in the keychain (--token-key), not here."""
    from app.core.errors import UsageError

    headers = {}
    for item in given:
        name, colon, value = item.partition(":")
        if not colon or not name.strip() or any(c in item for c in "\r\n"):
            raise UsageError(f"'{item}' is not a header: write it as 'Name: value'.")
        headers[name.strip()] = value.strip()
    return headers


def cmd_ls(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.core.tools import builtin
    from app.core.tools.mcp import McpServer, ToolError

    def granted_to(server: str) -> list[str]:
        return [c.id for c in ctx.copilots() if any(g.split(".")[0] == server for g in c.tools)]

    listing: list[dict[str, Any]] = [
        {
            "name": builtin.SERVER,
            "where": "built in",
            "remote": False,
            "state": "built in",
            "tools": [{"name": t.name, "description": t.description} for t in builtin.TOOLS.values()],
            "granted_to": granted_to(builtin.SERVER),
        }
    ]
    for name, stored in ctx.store.tool_servers().items():
        server = McpServer(name, stored)
        entry: dict[str, Any] = {"name": name, "where": server.where, "remote": isinstance(stored, dict)}
        entry["command" if isinstance(stored, list) else "url"] = stored if isinstance(stored, list) else server.where
        try:
            entry["tools"] = [{"name": t.name, "description": t.description} for t in server.list_tools()]
            entry["state"] = "running"
        except ToolError as exc:
            entry["error"] = str(exc)
            entry["state"] = "failed"
        entry["granted_to"] = granted_to(name)
        listing.append(entry)
    if args.json:
        print_json(listing)
    elif len(listing) == 1:
        print("No tool servers yet: `roundtable tools add NAME -- COMMAND ARGS...` registers an MCP server.")
    say = safe_print  # tool names, descriptions and errors are the server's words
    for entry in [] if args.json else listing:
        granted = ", ".join(entry["granted_to"]) or "nobody"
        say(f"{entry['name']}: {entry['where']}  ({entry['state']}; granted to: {granted})")
        for tool in entry.get("tools", []):
            say(f"  {entry['name']}.{tool['name']}: {tool['description'][:80]}")
        if "error" in entry:
            say(f"  {entry['error']}")
    return 0


def cmd_rm(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.core.errors import UsageError

    if args.name not in ctx.store.tool_servers():
        raise UsageError(f"No tool server '{args.name}' (see `roundtable tools ls`).")
    from app.core.tools.mcp import McpServer

    McpServer(args.name, ctx.store.tool_servers()[args.name]).stop()
    ctx.store.remove_tool_server(args.name)
    print(f"Removed the tool server '{args.name}'; copilots granted it can no longer call it.")
    return 0


def cmd_approvals(args: argparse.Namespace, ctx: AppContext) -> int:
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


def cmd_revoke(args: argparse.Namespace, ctx: AppContext) -> int:
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


def register(commands: Any) -> None:
    """Add `tools` to the command parser."""
    tools = commands.add_parser("tools", help="MCP tool servers copilots may call")
    tool_actions = tools.add_subparsers(dest="tools_command", metavar="ACTION", required=True)
    add = tool_actions.add_parser(
        "add", help="register an MCP server: tools add NAME -- COMMAND ARGS..., or tools add NAME --url URL"
    )
    add.add_argument("name")
    add.add_argument("--url", help="a remote server's Streamable HTTP endpoint, e.g. https://host/mcp")
    add.add_argument(
        "--header", action="append", default=[], metavar="'NAME: VALUE'", help="a plain header for --url (repeat)"
    )
    add.add_argument("--token-key", help="the keychain key (`roundtable keys set`) sent as its bearer token")
    add.add_argument("command", nargs="*", help="a stdio server's command line, after --")
    add.set_defaults(handler=cmd_add)
    tls = tool_actions.add_parser("ls", help="the registered servers, their tools and who may use them")
    tls.add_argument("--json", action="store_true")
    tls.set_defaults(handler=cmd_ls)
    trm = tool_actions.add_parser("rm", help="forget a tool server")
    trm.add_argument("name")
    trm.set_defaults(handler=cmd_rm)
    approvals = tool_actions.add_parser("approvals", help='the tools copilots may use without asking ("always")')
    approvals.add_argument("--workspace", help="only this workspace (id or name)")
    approvals.add_argument("--json", action="store_true")
    approvals.set_defaults(handler=cmd_approvals)
    approval_actions = approvals.add_subparsers(dest="approvals_command", metavar="ACTION")
    arevoke = approval_actions.add_parser("revoke", help="forget saved approvals: the tools ask again")
    arevoke.add_argument("tool", nargs="?", help="server.tool, or a server for all of its tools")
    arevoke.add_argument("--all", action="store_true", help="every saved approval (of --workspace, if given)")
    # SUPPRESS: a --workspace given before `revoke` is kept rather than reset by this parser's default
    arevoke.add_argument("--workspace", default=argparse.SUPPRESS, help="only in this workspace (id or name)")
    arevoke.add_argument("--copilot", help="only this copilot's approvals")
    arevoke.set_defaults(handler=cmd_revoke)
