"""`roundtable workspaces`: every workspace, exported to one file or imported from one."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.common import default_workspace, workspace_id
from app.cli.output import print_json, table, terminal_safe

if TYPE_CHECKING:  # a type only: importing the context loads all of core
    from app.core.context import AppContext


def cmd_ls(args: argparse.Namespace, ctx: AppContext) -> int:
    rows = []
    for workspace in ctx.store.workspaces():
        threads = len(ctx.store.list_threads(workspace["id"]))
        documents = len(ctx.store.documents(workspace["id"]))
        rows.append({**workspace, "threads": threads, "documents": documents})
    if args.json:
        print_json(rows)
    else:
        table(
            ["ID", "NAME", "THREADS", "DOCUMENTS"], [[r["id"], r["name"], r["threads"], r["documents"]] for r in rows]
        )
    return 0


def cmd_export(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.core.store.archive import export_workspace

    target = Path(args.output)
    counts = export_workspace(ctx.store, workspace_id(ctx, args.workspace, default_workspace()), target)
    print(
        f"Wrote {target}: {counts['threads']} threads, {counts['messages']} messages, {counts['documents']} documents, "
        f"{counts['requests']} kept requests."
    )
    return 0


def cmd_import(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.core.crew.trust import NEEDS_REVIEW
    from app.core.store.archive import import_workspace

    report = import_workspace(ctx.store, Path(args.file), args.name)
    counts = report.counts
    if args.json:
        print_json({"workspace": report.workspace, **counts, "needs_review": report.needs_review, "kept": report.kept})
        return 0
    print(
        f"Imported into workspace '{report.workspace}': {counts['threads']} threads, {counts['documents']} documents."
    )
    for copilot in report.needs_review:
        then = "review it, then run"
        if copilot["remote"]:
            then = f"it sends nothing to {copilot['endpoint'] or copilot['provider']} until you run"
        # the archive chose these URLs -> no control characters reach the terminal
        print(
            terminal_safe(
                f"Copilot '{copilot['id']}': {NEEDS_REVIEW}. Its key name, tools and approvals were not imported; "
                f"{then} `roundtable copilots trust {copilot['id']}`."
            )
        )
    if report.kept:
        print(f"Copilots already here, kept as they are: {', '.join(report.kept)}.")
    return 0


def register(commands: Any) -> None:
    """Add `workspaces` to the command parser."""
    workspaces = commands.add_parser("workspaces", help="workspaces: their threads and documents")
    w_actions = workspaces.add_subparsers(dest="workspaces_command", metavar="ACTION", required=True)
    w_ls = w_actions.add_parser("ls", help="every workspace")
    w_ls.add_argument("--json", action="store_true")
    w_ls.set_defaults(handler=cmd_ls)
    export = w_actions.add_parser(
        "export", help="a workspace to one file: threads, tasks, copilots, documents (no keys)"
    )
    export.add_argument("workspace", help="workspace id or name")
    export.add_argument("-o", "--output", required=True, help="the file to write, e.g. finance.roundtable")
    export.set_defaults(handler=cmd_export)
    imp = w_actions.add_parser("import", help="an exported workspace, as a new workspace")
    imp.add_argument("file")
    imp.add_argument("--name", help="the new workspace's name (default: the exported one's)")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(handler=cmd_import)
