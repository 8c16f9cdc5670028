"""`roundtable` with no command, `roundtable overlay` and `roundtable quit`: the desktop app, started or steered."""

from __future__ import annotations

import argparse
from typing import Any

from app.core.errors import RoundtableError


def open_desktop_app(command: str = "show") -> int:
    """Hand `command` to the running desktop app, or start it."""
    try:
        from app.ui.app import run_app
    except ImportError as exc:
        raise RoundtableError(
            f"The desktop app needs PySide6 ({exc}): run `./dev run`, or `pip install 'roundtable[gui]'`."
        ) from exc
    return run_app(command=command)


def cmd_quit(_args: argparse.Namespace, _ctx: None) -> int:
    from app.core.instance import send_command
    from app.core.paths import Paths

    if send_command(Paths.from_environment(), "quit") is None:
        print("Roundtable is not running.")
    else:
        print("Roundtable is quitting.")
    return 0


def register(commands: Any) -> None:
    """Add `overlay` and `quit` to the command parser."""
    overlay = commands.add_parser(
        "overlay", help="show or hide the quick-ask overlay of the running Roundtable (starts one in the tray if none)"
    )
    overlay.set_defaults(handler=lambda _args, _ctx: open_desktop_app("overlay"), needs_context=False)
    quit_parser = commands.add_parser("quit", help="quit the running desktop app (it may be waiting in the tray)")
    quit_parser.set_defaults(handler=cmd_quit, needs_context=False)
