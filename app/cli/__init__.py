"""The `roundtable` command. With no subcommand it opens the desktop app."""

from __future__ import annotations

import argparse
import sys
import traceback

from app import __version__
from app.cli import ask, copilots, desktop, docs, hardware, keys, models, run, search, tasks, threads, tools, workspaces
from app.core.errors import ExitCode, RoundtableError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roundtable", description="Your own AI copilots, local and remote, around one table."
    )
    parser.add_argument("--version", action="version", version=f"roundtable {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    # `--help` lists them in this order: conversations, the crew, knowledge, models, the outside world, the app
    for command in (ask, threads, run, tasks, copilots, docs, search, workspaces):
        command.register(commands)
    for command in (models, hardware, keys, tools, desktop):
        command.register(commands)
    from app.cli import serve

    serve.register(commands)
    return parser


def dispatch(argv: list[str] | None) -> int:
    """Parse `argv` and run its command (in an `AppContext` unless it needs none)."""
    args = build_parser().parse_args(argv)
    if getattr(args, "handler", None) is None:
        return desktop.open_desktop_app()
    if getattr(args, "needs_context", True) is False:
        return int(args.handler(args, None))
    from app.core.context import AppContext
    from app.core.logs import configure_logging
    from app.core.paths import Paths

    configure_logging(Paths.from_environment())  # once, before any work; `--version` and `overlay` stay fast
    with AppContext() as ctx:
        return int(args.handler(args, ctx))


def main(argv: list[str] | None = None) -> int:
    """Run a command; every error ends as one line on standard error and an exit status from `ExitCode`."""
    try:
        return dispatch(argv)
    except RoundtableError as exc:
        from app.cli.output import terminal_safe  # errors may quote a server, a file or a reply

        sys.stderr.write(f"roundtable: {terminal_safe(str(exc))}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("\nroundtable: interrupted\n")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return ExitCode.OK
    except Exception as exc:  # a bug: the traceback goes to the log file, the terminal gets one line
        from app.cli.output import terminal_safe
        from app.core.logs import log_unexpected

        summary = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        try:
            where = f"details in {log_unexpected(exc, 'the command line')}"
        except OSError as log_error:  # no writable data folder: the traceback has nowhere else to go
            traceback.print_exception(exc)
            where = f"the log file could not be written: {log_error}"
        sys.stderr.write(f"roundtable: unexpected error ({terminal_safe(summary)}); {terminal_safe(where)}\n")
        return ExitCode.INTERNAL
