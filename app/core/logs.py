"""The log file: warnings and unexpected errors, with their tracebacks, in `<data>/logs/roundtable.log`.

A desktop launch has no terminal, so what would have gone to standard error is lost without it. Configured once
at start-up by the CLI (`app.cli.dispatch`) and the desktop app (`app.ui.app.run_app`); Help → Open log folder shows it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from io import TextIOWrapper
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType

from app.core.paths import Paths
from app.core.private import make_private_dir

LOG_FILENAME = "roundtable.log"
_MAX_BYTES = 512 * 1024  # the last few hundred problems; the log is for the latest ones, not a history
_BACKUPS = 2  # roundtable.log.1 and .2: at most 1.5 MiB in all
_FORMAT = "%(asctime)s %(levelname)s %(name)s [pid %(process)d, %(threadName)s] %(message)s"
# not under `app`: an unexpected error goes to the file only; the terminal gets one line from the CLI
_unexpected = logging.getLogger("roundtable.unexpected")

ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], object]


class _LogFile(RotatingFileHandler):
    """The log file's handler; its own class, so configuring again finds it (tests, another data folder).

    The folder and the file are made at the first record: a run with nothing to report leaves no trace.
    """

    def _open(self) -> TextIOWrapper:
        make_private_dir(Path(self.baseFilename).parent)  # tracebacks may quote the user's messages
        return super()._open()


class _Terminal(logging.Handler):
    """What logging's last-resort handler did for our own warnings before a file handler existed: the message
    alone on the standard error of the moment (a user fixes a damaged roster from the terminal's line)."""

    def emit(self, record: logging.LogRecord) -> None:
        if sys.stderr is None:  # a windowed launch on Windows has no standard error at all
            return
        try:
            sys.stderr.write(record.getMessage() + "\n")
        except Exception:
            self.handleError(record)


def log_folder(paths: Paths) -> Path:
    """The log folder, created private to the user (tracebacks may quote their messages and file names)."""
    make_private_dir(paths.log_dir)
    return paths.log_dir


def configure_logging(paths: Paths) -> Path:
    """Write warnings and errors of every logger to the rotated log file; `app`'s own warnings still reach the
    terminal. Idempotent: a second call for the same folder changes nothing. Returns the log file's path."""
    target = paths.log_dir / LOG_FILENAME
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _LogFile):
            if Path(handler.baseFilename) == target:
                return target
            root.removeHandler(handler)  # another data folder (ROUNDTABLE_HOME changed): the new one wins
            handler.close()
    handler = _LogFile(target, maxBytes=_MAX_BYTES, backupCount=_BACKUPS, encoding="utf-8", delay=True)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(handler)
    ours = logging.getLogger("app")
    if not any(isinstance(h, _Terminal) for h in ours.handlers):
        ours.addHandler(_Terminal(logging.WARNING))
    return target


def log_unexpected(error: BaseException, where: str, paths: Paths | None = None) -> Path:
    """Write an error nobody expected, with its traceback, to the log file (configured here if need be)."""
    target = configure_logging(paths or Paths.from_environment())
    _unexpected.error("Unexpected error in %s", where, exc_info=(type(error), error, error.__traceback__))
    return target


def install_excepthook(paths: Paths, where: str) -> ExceptHook:
    """Log every uncaught exception (a Qt slot's included) before the previous hook runs; returns that hook."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
        if not issubclass(kind, KeyboardInterrupt):
            log_unexpected(error, where, paths)
        previous(kind, error, traceback)

    sys.excepthook = hook
    return previous
