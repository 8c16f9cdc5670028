"""`roundtable threads`: stored threads, listed, printed, exported as Markdown, reported, replayed."""

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


def cmd_report(args: argparse.Namespace, ctx: AppContext) -> int:
    from pathlib import Path

    from app.core.errors import UsageError
    from app.core.report import build_report, report_format, write_report

    output = Path(args.output)
    kind = args.format or report_format(output)
    if kind is None:
        raise UsageError(f"Cannot tell the report's format from '{output.name}': name it .html, .md or .pdf.")
    thread = ctx.store.get_thread(args.id)
    report = build_report(ctx.store, thread.id, {c.id: c.name for c in ctx.copilots()})
    try:
        write_report(report, output, kind, _pdf_writer() if kind == "pdf" else None)
    except OSError as exc:
        raise UsageError(f"Cannot write {output}: {exc.strerror or exc}.") from exc
    steps = sum(len(run.steps) for run in report.runs)
    print(f"Wrote {output}: {len(report.runs)} question(s), {steps} repl{'y' if steps == 1 else 'ies'}.")
    return 0


def _pdf_writer() -> Any:
    """Qt's PDF printer, with an offscreen Qt application to print in."""
    from app.core.errors import RoundtableError

    try:
        from app.ui.report_pdf import offscreen_app, write_pdf
    except ImportError as exc:
        raise RoundtableError(
            f"A PDF report needs PySide6 ({exc}): write .html or .md, or `pip install 'roundtable[gui]'`."
        ) from exc
    offscreen_app()
    return write_pdf


def cmd_replay(args: argparse.Namespace, ctx: AppContext) -> int:
    from app.core.errors import ExitCode
    from app.core.replay import DIFFERS, FAILED, IDENTICAL, ReplayResult, replay_thread

    thread = ctx.store.get_thread(args.id)
    marks = {IDENTICAL: "✓ identical", DIFFERS: "✗ differs", FAILED: "✗ failed", "skipped": "– skipped"}

    def show(result: ReplayResult) -> None:
        if args.json:
            return
        safe_print(f"{marks[result.outcome]:<12} {result.copilot:<14} {result.message_id[:12]}  {result.detail}")
        if result.outcome == DIFFERS:
            safe_print(f"    stored:   {result.original!r}")
            safe_print(f"    replayed: {result.replayed!r}")

    if not args.json:
        safe_print(f"Replaying {thread.title} ({thread.id}): each local reply asked again with its kept request.")
    results = replay_thread(ctx.store, ctx.services, thread.id, progress=show)
    if args.json:
        print_json([vars(result) for result in results])
    counts = {kind: sum(r.outcome == kind for r in results) for kind in marks}
    if not args.json:
        print(", ".join(f"{n} {kind}" for kind, n in counts.items() if n) or "No replies to replay.")
    return ExitCode.FAILED if counts[DIFFERS] or counts[FAILED] else ExitCode.OK


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
    report_parser = thread_commands.add_parser(
        "report", help="a report of how the crew answered: path, provenance, confidence, sources, tools"
    )
    report_parser.add_argument("id", help="thread id (or a unique prefix)")
    report_parser.add_argument("-o", "--output", required=True, help="report.html, report.md or report.pdf")
    report_parser.add_argument("--format", choices=["html", "md", "pdf"], help="default: from the file's name")
    report_parser.set_defaults(handler=cmd_report)
    replay_parser = thread_commands.add_parser(
        "replay", help="ask each local reply again with its kept request; say whether it comes out identical"
    )
    replay_parser.add_argument("id", help="thread id (or a unique prefix)")
    replay_parser.add_argument("--json", action="store_true")
    replay_parser.set_defaults(handler=cmd_replay)
