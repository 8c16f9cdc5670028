"""`roundtable tasks`: the task board, where handoffs and their outcomes are kept."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from app.cli.common import workspace_id
from app.cli.output import print_json, table

if TYPE_CHECKING:  # a type only: importing the context loads all of core
    from app.core.context import AppContext


def cmd_ls(args: argparse.Namespace, ctx: AppContext) -> int:
    tasks = ctx.store.tasks(workspace_id=workspace_id(ctx, args.workspace))
    if args.json:
        print_json([vars(t) for t in tasks])
        return 0
    if not tasks:
        print("No tasks yet: copilots make tasks when they hand work to each other in `roundtable run`.")
        return 0
    table(
        ["ID", "STATUS", "FROM", "TO", "THREAD", "TASK"],
        [[t.id, t.status, t.from_copilot, t.to_copilot, t.thread_id, t.task[:60]] for t in tasks],
    )
    return 0


def register(commands: Any) -> None:
    """Add `tasks` to the command parser."""
    tasks = commands.add_parser("tasks", help="the task board: handoffs and how they went")
    task_actions = tasks.add_subparsers(dest="tasks_command", metavar="ACTION", required=True)
    ls = task_actions.add_parser("ls", help="tasks, oldest first")
    ls.add_argument("--workspace")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_ls)
