"""The `roundtable` command. With no subcommand it opens the desktop app."""

from __future__ import annotations

import argparse
import sys
import traceback

from app import __version__
from app.cli import chat, crew, knowledge, models
from app.core.errors import ExitCode, RoundtableError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roundtable", description="Your own AI copilots, local and remote, around one table."
    )
    parser.add_argument("--version", action="version", version=f"roundtable {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    chat.register(commands)
    crew.register(commands)
    models.register(commands)
    knowledge.register(commands)
    overlay = commands.add_parser(
        "overlay", help="show or hide the quick-ask overlay of the running Roundtable (starts one in the tray if none)"
    )
    overlay.set_defaults(handler=lambda _args, _ctx: _open_desktop_app("overlay"), needs_context=False)
    quit_parser = commands.add_parser("quit", help="quit the running desktop app (it may be waiting in the tray)")
    quit_parser.set_defaults(handler=_quit_desktop_app, needs_context=False)
    return parser


def _quit_desktop_app(_args: argparse.Namespace, _ctx: None) -> int:
    from app.core.instance import send_command
    from app.core.settings import Paths

    if send_command(Paths.from_environment(), "quit") is None:
        print("Roundtable is not running.")
    else:
        print("Roundtable is quitting.")
    return 0


def run(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "handler", None) is None:
        return _open_desktop_app()
    if getattr(args, "needs_context", True) is False:
        return int(args.handler(args, None))
    from app.core.context import AppContext
    from app.core.logs import configure_logging
    from app.core.settings import Paths

    configure_logging(Paths.from_environment())  # once, before any work; `--version` and `overlay` stay fast
    with AppContext() as ctx:
        return int(args.handler(args, ctx))


def _open_desktop_app(command: str = "show") -> int:
    """Hand `command` to the running desktop app, or start it."""
    try:
        from app.ui.app import run_app
    except ImportError as exc:
        raise RoundtableError(
            f"The desktop app needs PySide6 ({exc}): run `./dev run`, or `pip install 'roundtable[gui]'`."
        ) from exc
    return run_app(command=command)


def main(argv: list[str] | None = None) -> int:
    """Run a command; every error ends as one line on standard error and an exit status from `ExitCode`."""
    try:
        return run(argv)
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
