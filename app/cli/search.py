"""`roundtable search`: stored messages and documents' passages that match some words."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from app.cli.common import workspace_id
from app.cli.folders import sync_on_start
from app.cli.output import print_json, terminal_safe
from app.core.errors import UsageError

if TYPE_CHECKING:  # a type only: importing the context loads all of core
    from app.core.context import AppContext


def cmd_search(args: argparse.Namespace, ctx: AppContext) -> int:
    query = " ".join(args.query).strip()
    if not query:
        raise UsageError("Search for what? Give some words.")
    from app.core.knowledge.search import search_everything

    workspace = workspace_id(ctx, args.workspace)
    sync_on_start(ctx, workspace)
    hits = search_everything(ctx.store, workspace, query, args.limit, args.mode, ctx.embedder())
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
    search.add_argument(
        "--mode",
        choices=["hybrid", "bm25", "vector"],
        default="hybrid",
        help="documents by words (bm25), by meaning (vector) or both fused (hybrid, the default)",
    )
    search.add_argument("--json", action="store_true")
    search.set_defaults(handler=cmd_search)
