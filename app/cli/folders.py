"""`roundtable docs link/unlink/links/sync`: folders whose documents a workspace follows; `sync_on_start` brings
them up to date before `ask`, `run` and `search` read documents."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.common import default_workspace, workspace_id
from app.cli.output import print_json, table, terminal_safe
from app.core.errors import RoundtableError

if TYPE_CHECKING:  # types only: importing these loads all of core
    from app.core.context import AppContext
    from app.core.knowledge.folders import SyncReport
    from app.core.knowledge.index import Progress
    from app.core.store.folders import LinkedFolder


def _show_progress(step: Progress) -> None:
    err = sys.stderr
    if err.isatty():
        name = terminal_safe(Path(step.path).name)[:60] if step.path else ""
        err.write(f"\rReading linked files: {name:<60}" if name else "\r" + " " * 82 + "\r")
        err.flush()


def _print_report(report: SyncReport, as_json: bool) -> None:
    if as_json:
        print_json([vars(f) for f in report.folders])
        return
    for folder in report.folders:
        print(f"{terminal_safe(folder.folder)}:")
        for label in ("added", "updated", "removed", "unchanged"):
            paths = getattr(folder, label)
            if paths:
                names = ", ".join(Path(p).name for p in paths[:5]) + ("…" if len(paths) > 5 else "")
                print(f"  {label}: {len(paths)} ({terminal_safe(names)})")
        for path, reason in folder.skipped:
            print(f"  skipped: {terminal_safe(Path(path).name)}: {terminal_safe(reason)}")
        if folder.error:
            print(f"  not read: {terminal_safe(folder.error)}")


def _embed_changed(ctx: AppContext, report: SyncReport) -> None:
    """Embed the new passages of the workspaces that changed; on failure they are still found by their words."""
    from app.core.knowledge.embedding import embed_pending

    for workspace in report.changed_workspaces():
        try:
            embed_pending(ctx.store, ctx.embedder(), workspace)
        except RoundtableError as exc:
            sys.stderr.write(f"roundtable: new passages not embedded yet ({terminal_safe(str(exc))}).\n")


def sync_on_start(ctx: AppContext, workspace: str | None) -> None:
    """Bring a workspace's linked folders (None: every workspace's) up to date before its documents are read: a
    stat per file when nothing changed. Changes and unreadable folders are told on standard error, so an answer
    (or `--json`) on standard output stays as it was."""
    from app.core.knowledge.folders import sync_linked_folders

    if not ctx.store.linked_folders(workspace):
        return
    report = sync_linked_folders(ctx.store, workspace, _show_progress)
    if report.changed or any(f.error for f in report.folders):
        sys.stderr.write(f"[linked folders: {terminal_safe(report.summary())}]\n")
    _embed_changed(ctx, report)


def cmd_link(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.core.knowledge.folders import SyncReport, link_folder, sync_folder

    workspace = workspace_id(ctx, args.workspace, default_workspace())
    folder = link_folder(ctx.store, workspace, Path(args.path))
    print(f"Linked {terminal_safe(folder)} to workspace '{workspace}': its documents follow the files in it.")
    report = SyncReport([sync_folder(ctx.store, workspace, folder, _show_progress)])
    _print_report(report, as_json=False)
    if not args.no_embed:
        _embed_changed(ctx, report)
    return 0


def cmd_unlink(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.core.knowledge.folders import unlink_folder

    workspace = workspace_id(ctx, args.workspace, default_workspace())
    folder, count = unlink_folder(ctx.store, workspace, Path(args.path), args.keep)
    shown = terminal_safe(folder)
    if args.keep:
        print(
            f"Unlinked {shown}: its {count} documents stay in workspace '{workspace}' as documents added by hand"
            " (no longer updated; `roundtable docs rm` removes one)."
        )
    else:
        print(
            f"Unlinked {shown}: its {count} documents were removed from workspace '{workspace}' (the files are"
            " untouched; `--keep` keeps the documents)."
        )
    return 0


def _state(folder: LinkedFolder) -> str:
    """How a linked folder's last scan went, in a few words (`docs sync` names the skipped files)."""
    if folder.last_error:
        return folder.last_error
    return f"ok, {len(folder.skipped)} skipped" if folder.skipped else "ok"


def cmd_links(args: argparse.Namespace, ctx: AppContext) -> int:
    folders = ctx.store.linked_folders(workspace_id(ctx, args.workspace))
    if args.json:
        print_json([vars(f) for f in folders])
    elif not folders:
        print("No linked folders: `roundtable docs link FOLDER` makes a workspace follow one.")
    else:
        table(
            ["WORKSPACE", "FOLDER", "DOCUMENTS", "LAST SCAN", "STATE"],
            [[f.workspace_id, f.path, f.documents, f.last_scan_at or "never", _state(f)] for f in folders],
        )
    return 0


def cmd_sync(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.core.knowledge.folders import sync_linked_folders

    report = sync_linked_folders(ctx.store, workspace_id(ctx, args.workspace), _show_progress)
    if not report.folders:
        print("No linked folders: `roundtable docs link FOLDER` makes a workspace follow one.")
        return 0
    _print_report(report, args.json)
    _embed_changed(ctx, report)
    return 0


def register_actions(actions: Any) -> None:
    """Add `link`, `unlink`, `links` and `sync` to `docs`."""
    link = actions.add_parser("link", help="link a folder: its documents are added, updated and removed with its files")
    link.add_argument("path")
    link.add_argument("--workspace", help="workspace id or name (default: the default workspace)")
    link.add_argument("--no-embed", action="store_true", help="index words only; `roundtable docs embed` later")
    link.set_defaults(handler=cmd_link)
    unlink = actions.add_parser("unlink", help="stop following a linked folder (its documents are removed)")
    unlink.add_argument("path")
    unlink.add_argument("--workspace", help="workspace id or name (default: the default workspace)")
    unlink.add_argument("--keep", action="store_true", help="keep its documents, as if added by hand")
    unlink.set_defaults(handler=cmd_unlink)
    links = actions.add_parser("links", help="the linked folders, with their documents and last scan")
    links.add_argument("--workspace", help="only this workspace")
    links.add_argument("--json", action="store_true")
    links.set_defaults(handler=cmd_links)
    sync = actions.add_parser("sync", help="scan the linked folders now (ask, run and search do it on start)")
    sync.add_argument("--workspace", help="only this workspace")
    sync.add_argument("--json", action="store_true")
    sync.set_defaults(handler=cmd_sync)
