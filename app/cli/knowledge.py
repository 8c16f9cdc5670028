"""`roundtable docs` (a workspace's documents), `roundtable search` and `roundtable workspaces` (list, export,
import)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.cli.common import default_workspace, workspace_id
from app.cli.output import ctrl_c_cancels, human_bytes, print_json, table, terminal_safe
from app.core.errors import ExitCode, UsageError


def cmd_docs_add(args: argparse.Namespace, ctx: Any) -> int:
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


def cmd_docs_ls(args: argparse.Namespace, ctx: Any) -> int:
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


def cmd_docs_rm(args: argparse.Namespace, ctx: Any) -> int:
    document = ctx.store.get_document(args.id)
    if document is None:
        raise UsageError(f"No document '{args.id}' (see `roundtable docs ls`).")
    ctx.store.remove_document(document.id)
    name = terminal_safe(document.name)
    print(f"Removed {name} from workspace '{document.workspace_id}' (the file itself is untouched).")
    return 0


def cmd_search(args: argparse.Namespace, ctx: Any) -> int:
    query = " ".join(args.query).strip()
    if not query:
        raise UsageError("Search for what? Give some words.")
    workspace = workspace_id(ctx, args.workspace)
    hits = ctx.store.search_messages(query, workspace, args.limit) + ctx.store.search_chunks(
        query, workspace, args.limit
    )
    hits.sort(key=lambda hit: hit.score)
    hits = hits[: args.limit]
    if args.json:
        print_json([{k: v for k, v in vars(h).items() if k != "text"} for h in hits])
        return 0
    if not hits:
        print(f"Nothing found for '{terminal_safe(query)}'.")
        return 0
    for hit in hits:
        if hit.kind == "message":
            where = f"thread {hit.thread_id} “{hit.title}”, {hit.location}"
        else:
            where = f"{hit.title}{f', {hit.location}' if hit.location else ''}"
        snippet = " ".join(hit.snippet.split())
        # snippets quote replies and documents -> no control characters reach the terminal
        print(terminal_safe(f"{hit.kind:<8} {where}\n         {snippet}"))
    return 0


def cmd_workspaces_ls(args: argparse.Namespace, ctx: Any) -> int:
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


def cmd_workspaces_export(args: argparse.Namespace, ctx: Any) -> int:
    from app.core.store.archive import export_workspace

    target = Path(args.output)
    counts = export_workspace(ctx.store, workspace_id(ctx, args.workspace, default_workspace()), target)
    print(
        f"Wrote {target}: {counts['threads']} threads, {counts['messages']} messages, {counts['documents']} documents."
    )
    return 0


def cmd_workspaces_import(args: argparse.Namespace, ctx: Any) -> int:
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
    """Add `docs`, `search` and `workspaces` to the command parser."""
    docs = commands.add_parser("docs", help="documents copilots can read and cite")
    actions = docs.add_subparsers(dest="docs_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add files or folders (text, Markdown, PDF, HTML, DOCX)")
    add.add_argument("paths", nargs="+")
    add.add_argument("--workspace", help="workspace id or name (default: the default workspace)")
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler=cmd_docs_add)
    ls = actions.add_parser("ls", help="the documents (of one workspace, or all)")
    ls.add_argument("--workspace")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_docs_ls)
    rm = actions.add_parser("rm", help="remove a document from its workspace (not from disk)")
    rm.add_argument("id", help="document id or file name")
    rm.set_defaults(handler=cmd_docs_rm)

    search = commands.add_parser("search", help="search messages and documents")
    search.add_argument("query", nargs="+")
    search.add_argument("--workspace", help="only this workspace")
    search.add_argument("--limit", type=int, default=20)
    search.add_argument("--json", action="store_true")
    search.set_defaults(handler=cmd_search)

    workspaces = commands.add_parser("workspaces", help="workspaces: their threads and documents")
    w_actions = workspaces.add_subparsers(dest="workspaces_command", metavar="ACTION", required=True)
    w_ls = w_actions.add_parser("ls", help="every workspace")
    w_ls.add_argument("--json", action="store_true")
    w_ls.set_defaults(handler=cmd_workspaces_ls)
    export = w_actions.add_parser(
        "export", help="a workspace to one file: threads, tasks, copilots, documents (no keys)"
    )
    export.add_argument("workspace", help="workspace id or name")
    export.add_argument("-o", "--output", required=True, help="the file to write, e.g. finance.roundtable")
    export.set_defaults(handler=cmd_workspaces_export)
    imp = w_actions.add_parser("import", help="an exported workspace, as a new workspace")
    imp.add_argument("file")
    imp.add_argument("--name", help="the new workspace's name (default: the exported one's)")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(handler=cmd_workspaces_import)
