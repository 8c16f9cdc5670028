"""`roundtable run`: the crew works a task (routing, handoffs, tasks) on the terminal."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # a type only: importing the context loads all of core
    from app.core.context import AppContext


def cmd_run(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.cli.terminal import render_events, terminal_approver  # loads the crew: not at start-up
    from app.core.crew.runs import run_task
    from app.core.providers.base import CancelToken

    task = " ".join(args.task).strip() or ("" if sys.stdin.isatty() else sys.stdin.read())
    copilots = [c.strip() for c in args.copilots.split(",") if c.strip()] if args.copilots else None
    _sync_linked_folders(args, ctx)
    cancel = CancelToken()
    events = run_task(
        ctx,
        task,
        workspace=args.workspace,
        copilot_ids=copilots,
        max_hops=args.max_hops,
        max_turns=args.max_turns,
        token_budget=args.token_budget,
        roundtable=args.roundtable,
        moderator=args.moderator,
        cancel=cancel,
        approve=terminal_approver(args.yes),
    )
    status, thread_id = render_events(events, args.json, cancel, headers=True)
    if not args.json and thread_id:
        print(f"\n[thread {thread_id}: `roundtable threads show {thread_id} --trace` for the details]")
    return status


def _sync_linked_folders(args: argparse.Namespace, ctx: AppContext) -> None:
    """The linked folders of the run's workspace (if it exists yet) brought up to date first."""
    from app.cli.folders import sync_on_start
    from app.core.store.workspaces import DEFAULT_WORKSPACE

    found = ctx.store.find_workspace(args.workspace) if args.workspace else {"id": DEFAULT_WORKSPACE}
    if found is not None:
        sync_on_start(ctx, str(found["id"]))


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a whole number of 1 or more: {text!r}")
    return value


def register(commands: Any) -> None:
    """Add `run` to the command parser."""
    run = commands.add_parser("run", help="let the crew work a task: routing, handoffs, tasks")
    run.add_argument("task", nargs="*", help="the task; read from stdin when absent")
    run.add_argument("--workspace", help="workspace id or name (created if new; default: the default workspace)")
    run.add_argument("--copilots", help="comma-separated copilot ids taking part (default: the workspace's roster)")
    run.add_argument("--max-hops", dest="max_hops", type=int, help="handoffs to follow at most (default 6)")
    run.add_argument(
        "--max-turns", dest="max_turns", type=_positive, help="replies the run may take at most (default 12)"
    )
    run.add_argument(
        "--token-budget", dest="token_budget", type=_positive, help="tokens (prompts and replies) the run may use"
    )
    run.add_argument(
        "--roundtable", action="store_true", help="every copilot answers, then a moderator sums up (like @all)"
    )
    run.add_argument("--moderator", help="the copilot that sums up a roundtable (default: the default copilot)")
    run.add_argument("--json", action="store_true", help="one JSON object per event per line")
    run.add_argument("--yes", action="store_true", help="allow tools for this run only, unasked (never saved)")
    run.set_defaults(handler=cmd_run)
