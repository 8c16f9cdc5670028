"""`roundtable threads`: stored threads, listed, printed and exported as Markdown."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from app.cli.output import print_json, safe_print, terminal_safe

if TYPE_CHECKING:  # a type only: importing the context loads all of core
    from app.core.context import AppContext


def cmd_ls(args: argparse.Namespace, ctx: AppContext) -> int:
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


def cmd_show(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.cli.terminal import TerminalRenderer
    from app.core.crew.events import LOGGED
    from app.core.crew.transcript import citing_copilots, render_all

    thread = ctx.store.get_thread(args.id)
    timeline = ctx.store.timeline(thread.id)
    messages = ctx.store.messages(thread.id)
    confidence = _confidence(ctx, thread.id, messages) if args.confidence else None
    if args.json:
        shown = {
            "thread": vars(thread),
            "messages": [vars(message) for message in messages],
            "events": [{"kind": event.type, **event.fields()} for event in timeline if event.type in LOGGED],
            "tasks": [vars(t) for t in ctx.store.tasks(thread_id=thread.id)],
        }
        if confidence is not None:
            from app.cli.confidence import as_json

            shown["confidence"] = {message_id: as_json(reply) for message_id, reply in confidence.items()}
        print_json(shown)
        return 0
    # a stored thread holds replies, tool results and (imported) names -> printed through terminal_safe
    safe_print(f"# {thread.title}  ({thread.id})")
    traces = {m.id: m.data.get("trace") for m in messages} if args.trace or args.confidence else None
    citing = citing_copilots(timeline)
    renderer = TerminalRenderer(
        headers=True, stored=True, traces=traces, citing=citing, confidence=confidence, show_traces=args.trace
    )
    render_all(renderer, timeline, detail=True)
    return 0


def _confidence(ctx: AppContext, thread_id: str, messages: list[Any]) -> dict[str, Any]:
    """Each reply's token confidence (`--confidence`), by message id."""
    from app.core.confidence import stored

    blobs = ctx.store.confidences(thread_id)
    return {m.id: stored(blobs.get(m.id), m.data.get("trace")) for m in messages if m.role == "assistant"}


def cmd_export(args: argparse.Namespace, ctx: AppContext) -> int:
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


def register(commands: Any) -> None:
    """Add `threads` to the command parser."""
    threads = commands.add_parser("threads", help="list and show stored threads")
    thread_commands = threads.add_subparsers(dest="threads_command", metavar="ACTION", required=True)
    ls_parser = thread_commands.add_parser("ls", help="list threads, newest first")
    ls_parser.add_argument("--json", action="store_true")
    ls_parser.set_defaults(handler=cmd_ls)
    show_parser = thread_commands.add_parser("show", help="print a thread")
    show_parser.add_argument("id", help="thread id (or a unique prefix)")
    show_parser.add_argument("--json", action="store_true")
    show_parser.add_argument("--trace", action="store_true", help="print each reply's trace")
    show_parser.add_argument(
        "--confidence",
        action="store_true",
        help="mark each reply's low-probability tokens (under 0.5) and list their alternatives",
    )
    show_parser.set_defaults(handler=cmd_show)
    export_parser = thread_commands.add_parser("export", help="a thread as Markdown")
    export_parser.add_argument("id", help="thread id (or a unique prefix)")
    export_parser.add_argument("-o", "--output", help="file to write (default: standard output)")
    export_parser.set_defaults(handler=cmd_export)
