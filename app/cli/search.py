"""`roundtable search`: stored messages and documents' passages that match some words."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from app.cli.common import workspace_id
from app.cli.output import print_json, terminal_safe
from app.core.errors import UsageError

if TYPE_CHECKING:  # a type only: importing the context loads all of core
    from app.core.context import AppContext


def cmd_search(args: argparse.Namespace, ctx: AppContext) -> int:
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


def register(commands: Any) -> None:
    """Add `search` to the command parser."""
    search = commands.add_parser("search", help="search messages and documents")
    search.add_argument("query", nargs="+")
    search.add_argument("--workspace", help="only this workspace")
    search.add_argument("--limit", type=int, default=20)
    search.add_argument("--json", action="store_true")
    search.set_defaults(handler=cmd_search)
