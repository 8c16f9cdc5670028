"""`roundtable ask`: one copilot (or those @mentioned) answers, once or in a terminal chat."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from app import __version__
from app.cli.output import terminal_safe

if TYPE_CHECKING:  # a type only: importing the context loads all of core
    from app.core.context import AppContext


def cmd_ask(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.cli.terminal import render_events, terminal_approver  # loads the crew: not at start-up
    from app.core.crew.runs import ask
    from app.core.providers.base import CancelToken

    prompt = " ".join(args.prompt).strip()
    _sync_linked_folders(args, ctx)
    if not prompt and sys.stdin.isatty():
        return _interactive(args, ctx)
    if not prompt:
        prompt = sys.stdin.read()
    cancel = CancelToken()
    events = ask(
        ctx,
        prompt,
        copilot_id=args.copilot,
        thread_id=args.thread,
        model=args.model,
        cancel=cancel,
        approve=terminal_approver(args.yes),
    )
    return render_events(events, args.json, cancel, headers="@" in prompt)[0]


def _sync_linked_folders(args: argparse.Namespace, ctx: AppContext) -> None:
    """The linked folders of the workspace the answer reads, brought up to date first."""
    from app.cli.folders import sync_on_start
    from app.core.store.workspaces import DEFAULT_WORKSPACE

    sync_on_start(ctx, ctx.store.get_thread(args.thread).workspace_id if args.thread else DEFAULT_WORKSPACE)


def _interactive(args: argparse.Namespace, ctx: AppContext) -> int:
    """A chat session on the terminal: each line is a question in the same thread."""
    from app.cli.terminal import render_events, terminal_approver  # loads the crew: not at start-up
    from app.core.crew.runs import ask
    from app.core.providers.base import CancelToken

    copilot = ctx.copilot(args.copilot)
    print(f"Roundtable {__version__}: talking to {terminal_safe(copilot.name)}. Ctrl+C stops a reply; Ctrl+D quits.")
    thread_id = args.thread
    status = 0
    while True:
        try:
            prompt = input("\nyou> ").strip()
        except EOFError:
            print()
            return status
        if not prompt:
            continue
        cancel = CancelToken()
        print(f"{terminal_safe(copilot.name)}> ", end="", flush=True)
        events = ask(
            ctx,
            prompt,
            copilot_id=copilot.id,
            thread_id=thread_id,
            model=args.model,
            cancel=cancel,
            approve=terminal_approver(args.yes),
        )
        status, thread_id = render_events(events, False, cancel, headers="@" in prompt)


def register(commands: Any) -> None:
    """Add `ask` to the command parser."""
    ask_parser = commands.add_parser("ask", help="ask a copilot (interactive when no prompt is given)")
    ask_parser.add_argument("prompt", nargs="*", help="the question; read from stdin when absent and piped")
    ask_parser.add_argument("--copilot", help="copilot id or name (default: settings' default_copilot)")
    ask_parser.add_argument("--thread", help="continue this thread instead of starting a new one")
    ask_parser.add_argument("--model", help="answer with this installed model id or .gguf path")
    ask_parser.add_argument("--json", action="store_true", help="one JSON object per event per line")
    ask_parser.add_argument("--yes", action="store_true", help="allow tools for this run only, unasked (never saved)")
    ask_parser.set_defaults(handler=cmd_ask)
