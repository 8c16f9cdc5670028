"""`roundtable docs`: a workspace's documents, which copilots read and cite."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.common import default_workspace, workspace_id
from app.cli.folders import register_actions
from app.cli.output import ctrl_c_cancels, human_bytes, print_json, table, terminal_safe
from app.core.errors import ExitCode

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
    if report.failed and not (report.added or report.updated or report.unchanged):
        return ExitCode.USAGE
    return 0 if args.no_embed else _embed(ctx, workspace, quiet=args.json)


def _embed(ctx: AppContext, workspace: str, quiet: bool) -> int:
    """Embed the workspace's passages that need it, with a progress line on a terminal; Ctrl+C keeps what is done."""
    from app.core.errors import Cancelled
    from app.core.knowledge.embedding import EmbedProgress, embed_pending
    from app.core.providers.base import CancelToken

    err = sys.stderr

    def show(step: EmbedProgress) -> None:
        if err.isatty():
            err.write(f"\rEmbedding passages: {step.done}/{step.total}")
            err.flush()

    cancel = CancelToken()
    try:
        with ctrl_c_cancels(cancel):
            done = embed_pending(ctx.store, ctx.embedder(), workspace, show, cancel)
    except Cancelled as exc:
        err.write(f"\nroundtable: {exc} `roundtable docs embed` goes on from there.\n")
        return ExitCode.INTERRUPTED
    finally:
        if err.isatty():
            err.write("\r" + " " * 40 + "\r")
    if done and not quiet:
        print(f"embedded: {done} passages ({terminal_safe(ctx.embedder().model_id)})")
    return 0


def cmd_embed(args: argparse.Namespace, ctx: AppContext) -> int:
    workspace = workspace_id(ctx, args.workspace, default_workspace())
    status = _embed(ctx, workspace, quiet=False)
    if status == 0 and not ctx.store.count_pending(workspace, ctx.embedder().model_id):
        print(f"All passages are embedded with {terminal_safe(ctx.embedder().model_id)}.")
    return status


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
    from app.core.knowledge.folders import remove_by_hand

    document = remove_by_hand(ctx.store, args.id)
    name = terminal_safe(document.name)
    print(f"Removed {name} from workspace '{document.workspace_id}' (the file itself is untouched).")
    return 0


def cmd_models(args: argparse.Namespace, ctx: AppContext) -> int:
    """The recommended embedding models, which one is in use, and how to change it."""
    from app.core.hub.embedding_models import embedding_choices

    choices = embedding_choices(ctx)
    if args.json:
        print_json([{**vars(choice), "state": state} for choice, state in choices])
        return 0
    table(["MODEL", "STATE", "ABOUT"], [[choice.model_id, state, choice.about] for choice, state in choices])
    using = ctx.embedder().model_id
    if using not in {choice.model_id for choice, _ in choices}:
        print(f"In use: {terminal_safe(using)} (the embedding_model setting).")
    print("To use another: install it, set it, and embed the documents again, e.g.")
    example = next(choice for choice, _ in choices if choice.repo is not None)
    print(f"  roundtable models pull {example.repo} --file {example.filename}")
    print(f'  embedding_model = "{example.model_id}"   (in settings.toml), then `roundtable docs embed`')
    return 0


def register(commands: Any) -> None:
    """Add `docs` to the command parser."""
    docs = commands.add_parser("docs", help="documents copilots can read and cite")
    actions = docs.add_subparsers(dest="docs_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add files or folders (text, Markdown, CSV, PDF, HTML, DOCX, XLSX)")
    add.add_argument("paths", nargs="+")
    add.add_argument("--workspace", help="workspace id or name (default: the default workspace)")
    add.add_argument("--json", action="store_true")
    add.add_argument(
        "--no-embed", action="store_true", help="index words only; `roundtable docs embed` adds the meaning later"
    )
    add.set_defaults(handler=cmd_add)
    ls = actions.add_parser("ls", help="the documents (of one workspace, or all)")
    ls.add_argument("--workspace")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_ls)
    embed = actions.add_parser(
        "embed", help="embed the passages that need it (after Stop, or a change of the embedding_model setting)"
    )
    embed.add_argument("--workspace", help="workspace id or name (default: the default workspace)")
    embed.set_defaults(handler=cmd_embed)
    models = actions.add_parser("models", help="the recommended embedding models, and the one in use")
    models.add_argument("--json", action="store_true")
    models.set_defaults(handler=cmd_models)
    rm = actions.add_parser("rm", help="remove a document from its workspace (not from disk)")
    rm.add_argument("id", help="document id or file name")
    rm.set_defaults(handler=cmd_rm)
    register_actions(actions)
