"""The `roundtable` command. With no subcommand it opens the desktop app."""

from __future__ import annotations

import argparse
import sys

from app import __version__
from app.cli import chat, crew, knowledge, models
from app.cli.chat import EXIT_INTERRUPTED
from app.core.errors import RoundtableError


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
    try:
        return run(argv)
    except RoundtableError as exc:
        from app.cli.output import terminal_safe  # errors may quote a server, a file or a reply

        sys.stderr.write(f"roundtable: {terminal_safe(str(exc))}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("\nroundtable: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
