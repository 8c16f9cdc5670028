"""`roundtable docs`: a workspace's documents, which copilots read and cite."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.common import default_workspace, workspace_id
from app.cli.output import ctrl_c_cancels, human_bytes, print_json, table, terminal_safe
from app.core.errors import ExitCode, UsageError

if TYPE_CHECKING:  # a type only: importing the context loads all of core
    from app.core.context import AppContext


def cmd_add(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.core.knowledge.index import Progress, add_paths
    from app.core.providers.base import CancelToken

    workspace = workspace_id(ctx, args.workspace, default_workspace())
    err = sys.stderr

    def show(step: Progress) -> None:
        if step.path and err.isatty():
            err.write(f"\r[{step.done + 1}/{step.total}] {terminal_safe(Path(step.path).name)[:60]:<60}")
        elif not step.path and err.isatty():
            err.write("\r" + " " * 72 + "\r")
        err.flush()

    cancel = CancelToken()
    with ctrl_c_cancels(cancel):
        report = add_paths(ctx.store, workspace, [Path(p) for p in args.paths], show, cancel)
    if args.json:
        print_json(vars(report))
    else:
        for label, paths in (("added", report.added), ("updated", report.updated), ("unchanged", report.unchanged)):
            if paths:
                names = ", ".join(Path(p).name for p in paths[:5]) + ("…" if len(paths) > 5 else "")
                print(f"{label}: {len(paths)} ({terminal_safe(names)})")
        for _path, reason in report.failed:
            err.write(f"roundtable: not added: {terminal_safe(reason)}\n")
    if cancel.cancelled:
        return ExitCode.INTERRUPTED
    return ExitCode.USAGE if report.failed and not (report.added or report.updated or report.unchanged) else 0


def cmd_ls(args: argparse.Namespace, ctx: AppContext) -> int:
    documents = ctx.store.documents(workspace_id(ctx, args.workspace))
    if args.json:
        print_json([vars(d) for d in documents])
    elif not documents:
        print("No documents yet: `roundtable docs add PATH...` adds files or folders.")
    else:
        table(
            ["ID", "WORKSPACE", "NAME", "KIND", "SIZE", "PASSAGES"],
            [[d.id, d.workspace_id, d.name, d.kind, human_bytes(d.size_bytes), d.chunk_count] for d in documents],
        )
    return 0


def cmd_rm(args: argparse.Namespace, ctx: AppContext) -> int:
    document = ctx.store.get_document(args.id)
    if document is None:
        raise UsageError(f"No document '{args.id}' (see `roundtable docs ls`).")
    ctx.store.remove_document(document.id)
    name = terminal_safe(document.name)
    print(f"Removed {name} from workspace '{document.workspace_id}' (the file itself is untouched).")
    return 0


def register(commands: Any) -> None:
    """Add `docs` to the command parser."""
    docs = commands.add_parser("docs", help="documents copilots can read and cite")
    actions = docs.add_subparsers(dest="docs_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add files or folders (text, Markdown, PDF, HTML, DOCX)")
    add.add_argument("paths", nargs="+")
    add.add_argument("--workspace", help="workspace id or name (default: the default workspace)")
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler=cmd_add)
    ls = actions.add_parser("ls", help="the documents (of one workspace, or all)")
    ls.add_argument("--workspace")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_ls)
    rm = actions.add_parser("rm", help="remove a document from its workspace (not from disk)")
    rm.add_argument("id", help="document id or file name")
    rm.set_defaults(handler=cmd_rm)
