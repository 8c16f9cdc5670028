"""`roundtable ask` and `roundtable threads`: asking copilots and reading stored threads."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

from app import __version__
from app.cli.output import ctrl_c_cancels, print_json, terminal_safe
from app.core.errors import ExitCode, exit_code_for_kind


def render_events(events: Iterator[Any], as_json: bool, cancel: Any, headers: bool = False) -> tuple[int, str | None]:
    """Print a run's events as they come (or one JSON line each); returns the exit status and the thread."""
    from app.cli.terminal import TerminalRenderer
    from app.core.crew.events import CrewError, RunDone
    from app.core.crew.transcript import render

    status = 0
    thread_id = None
    err = sys.stderr
    terminal = TerminalRenderer(headers)
    with ctrl_c_cancels(cancel):
        for event in events:
            if as_json:
                print_json(event.to_dict())
            if isinstance(event, CrewError | RunDone):
                thread_id = event.thread_id
            if isinstance(event, CrewError):
                err.write(f"roundtable: {terminal_safe(event.message)}\n")
                status = exit_code_for_kind(event.kind)
            elif isinstance(event, RunDone) and event.status == "interrupted" and status == 0:
                err.write(f"[stopped; partial reply kept in thread {event.thread_id}]\n")
                status = ExitCode.INTERRUPTED
            if not as_json:
                render(terminal, event)
    return status, thread_id


def terminal_approver(assume_yes: bool) -> Any:
    """Asks on the terminal whenever a copilot wants a tool not allowed always in the workspace.

    `--yes` allows each call of this run and saves nothing. The prompt goes to stderr (stdout may be a file);
    names and arguments are made inert first, so a hostile tool or model cannot repaint the question.
    """
    from app.core.crew.tools import Consent, format_arguments

    def approve(_workspace: str, copilot: str, tool: str, arguments: dict) -> Consent:
        if assume_yes:
            return Consent.ONCE
        who, what = terminal_safe(copilot), terminal_safe(tool)
        if not (sys.stdin.isatty() and sys.stderr.isatty()):  # nobody could see the question, or answer it
            sys.stderr.write(
                f"roundtable: {who} asked to use the tool {what}; not allowed, as nobody is at the terminal to ask:"
                " run it with --yes to allow tools for that run, or interactively to choose.\n"
            )
            return Consent.DENY
        sys.stderr.write(
            f"\n{who} wants to use the tool {what} with these arguments:\n"
            f"{terminal_safe(format_arguments(arguments))}\n"
            f"Allow {what}? [o]nce / [a]lways in this workspace / [N]o: "
        )
        sys.stderr.flush()
        answer = sys.stdin.readline().strip().lower()  # "" at end of input -> no
        return Consent(_CONSENT_KEYS.get(answer, "deny"))

    return approve


_CONSENT_KEYS = {"o": "once", "once": "once", "a": "always", "always": "always"}  # anything else: deny


def cmd_ask(args: argparse.Namespace, ctx: Any) -> int:
    from app.core.crew.engine import ask
    from app.core.providers.base import CancelToken

    prompt = " ".join(args.prompt).strip()
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


def _interactive(args: argparse.Namespace, ctx: Any) -> int:
    """A chat session on the terminal: each line is a question in the same thread."""
    from app.core.crew.engine import ask
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


def cmd_threads_ls(args: argparse.Namespace, ctx: Any) -> int:
    threads = ctx.store.list_threads()
    if args.json:
        print_json([vars(thread) for thread in threads])
        return 0
    if not threads:
        print('No threads yet: start one with `roundtable ask "..."`.')
        return 0
    ids = [terminal_safe(thread.id) for thread in threads]  # an imported archive chose them
    width = max(len("ID"), *map(len, ids))  # old ids are 8 hex digits, new ones 32: the column fits both
    print(f"{'ID':<{width}} {'UPDATED':<20} {'MSGS':>4}  TITLE")
    for shown_id, thread in zip(ids, threads, strict=True):
        print(
            f"{shown_id:<{width}} {thread.updated_at[:19].replace('T', ' '):<20} {thread.message_count:>4}  "
            f"{terminal_safe(thread.title)}"
        )
    return 0


def cmd_threads_show(args: argparse.Namespace, ctx: Any) -> int:
    from app.cli.terminal import TerminalRenderer
    from app.core.crew.events import LOGGED
    from app.core.crew.transcript import render_all

    thread = ctx.store.get_thread(args.id)
    timeline = ctx.store.timeline(thread.id)
    if args.json:
        print_json(
            {
                "thread": vars(thread),
                "messages": [vars(message) for message in ctx.store.messages(thread.id)],
                "events": [{"kind": event.type, **event.fields()} for event in timeline if event.type in LOGGED],
                "tasks": [vars(t) for t in ctx.store.tasks(thread_id=thread.id)],
            }
        )
        return 0
    # a stored thread holds replies, tool results and (imported) names -> printed through terminal_safe
    _safe_print(f"# {thread.title}  ({thread.id})")
    traces = {m.id: m.data.get("trace") for m in ctx.store.messages(thread.id)} if args.trace else None
    render_all(TerminalRenderer(headers=True, stored=True, traces=traces), timeline, detail=True)
    return 0


def cmd_threads_export(args: argparse.Namespace, ctx: Any) -> int:
    from app.core.store.archive import thread_markdown

    text = thread_markdown(ctx.store, args.id)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as file:
            file.write(text)
        print(f"Wrote {args.output}.")
    else:
        # a terminal gets the safe text; a pipe or redirect gets the Markdown exactly as stored
        sys.stdout.write(terminal_safe(text) if sys.stdout.isatty() else text)
    return 0


def _safe_print(text: str) -> None:
    """print() for text that quotes a model, agent, tool or document."""
    print(terminal_safe(text))


def register(commands: Any) -> None:
    """Add `ask` and `threads` to the command parser."""
    ask_parser = commands.add_parser("ask", help="ask a copilot (interactive when no prompt is given)")
    ask_parser.add_argument("prompt", nargs="*", help="the question; read from stdin when absent and piped")
    ask_parser.add_argument("--copilot", help="copilot id or name (default: settings' default_copilot)")
    ask_parser.add_argument("--thread", help="continue this thread instead of starting a new one")
    ask_parser.add_argument("--model", help="answer with this installed model id or .gguf path")
    ask_parser.add_argument("--json", action="store_true", help="one JSON object per event per line")
    ask_parser.add_argument("--yes", action="store_true", help="allow tools for this run only, unasked (never saved)")
    ask_parser.set_defaults(handler=cmd_ask)

    threads = commands.add_parser("threads", help="list and show stored threads")
    thread_commands = threads.add_subparsers(dest="threads_command", metavar="ACTION", required=True)
    ls_parser = thread_commands.add_parser("ls", help="list threads, newest first")
    ls_parser.add_argument("--json", action="store_true")
    ls_parser.set_defaults(handler=cmd_threads_ls)
    show_parser = thread_commands.add_parser("show", help="print a thread")
    show_parser.add_argument("id", help="thread id (or a unique prefix)")
    show_parser.add_argument("--json", action="store_true")
    show_parser.add_argument("--trace", action="store_true", help="print each reply's trace")
    show_parser.set_defaults(handler=cmd_threads_show)
    export_parser = thread_commands.add_parser("export", help="a thread as Markdown")
    export_parser.add_argument("id", help="thread id (or a unique prefix)")
    export_parser.add_argument("-o", "--output", help="file to write (default: standard output)")
    export_parser.set_defaults(handler=cmd_threads_export)
