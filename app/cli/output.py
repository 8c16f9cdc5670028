"""Printing for the CLI: JSON lines, sizes, tables and a progress bar."""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # a type only: `--version` and `overlay` never load core's providers
    from app.core.providers.base import CancelToken

# C0 controls, DEL and C1 controls (CSI \x9b, OSC \x9d, ...) move the cursor, clear the screen, retitle the window
# or feed a terminal's escape parser; newline and tab are the only ones text needs.
_TERMINAL_UNSAFE = {c: None for c in (*range(0x00, 0x20), *range(0x7F, 0xA0)) if c not in (0x09, 0x0A)}
# JSON's own structure is ASCII, so these can only sit inside strings, where \uXXXX means the same character.
# (The same holds for TOML as tomli_w writes it: every string, key or value, is a basic "..." string.)
_JSON_ESCAPES = {c: f"\\u{c:04x}" for c in range(0x7F, 0xA0)}


def terminal_safe(text: str) -> str:
    """Text from a model, agent, tool or document, fit for a terminal: control characters other than \\n, \\t dropped.

    A lone carriage return becomes nothing and CRLF becomes LF, so a reply cannot overwrite what was printed before.
    """
    return text.replace("\r\n", "\n").translate(_TERMINAL_UNSAFE)


def safe_print(text: str) -> None:
    """print() for text that quotes a model, agent, tool server or document."""
    print(terminal_safe(text))


def inert_toml(text: str) -> str:
    """TOML from tomli_w with DEL and C1 escaped as \\uXXXX too (it escapes only C0): the same data, inert on a tty."""
    return text.translate(_JSON_ESCAPES)


def print_json(obj: Any) -> None:
    """One JSON line; C0 controls are escaped by json.dumps, DEL and C1 (kept raw by ensure_ascii=False) are too."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str).translate(_JSON_ESCAPES) + "\n")
    sys.stdout.flush()


def human_bytes(count: float | None) -> str:
    if count is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(count) < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} TB"


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def table(headers: list[str], rows: list[list[Any]]) -> None:
    """Left-aligned columns sized to their widest cell."""
    cells = [[terminal_safe(str(c)) for c in row] for row in rows]  # names and descriptions may be imported
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


class ProgressBar:
    """A one-line bar on stderr with bytes, speed and ETA, redrawn at most ten times a second."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = terminal_safe(label)  # a file name from a Hub listing
        self.stream = stream or sys.stderr
        self.last_draw = 0.0
        self.tty = self.stream.isatty()

    def update(self, done: int, total: int, speed: float, eta: float | None, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_draw < (0.1 if self.tty else 2.0):
            return
        self.last_draw = now
        fraction = done / total if total else 1.0
        filled = int(fraction * 30)
        bar = "#" * filled + "-" * (30 - filled)
        line = (
            f"{self.label} [{bar}] {fraction:6.1%} {human_bytes(done)}/{human_bytes(total)} "
            f"{human_bytes(speed)}/s ETA {human_duration(eta)}"
        )
        self.stream.write(("\r" + line) if self.tty else (line + "\n"))
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


@contextmanager
def ctrl_c_cancels(cancel: CancelToken) -> Iterator[None]:
    """First Ctrl+C stops generation and keeps the partial reply; a second one quits at once."""

    def handler(_signum: int, _frame: FrameType | None) -> None:
        if cancel.cancelled:
            raise KeyboardInterrupt
        cancel.cancel()
        sys.stderr.write("\n[stopping: press Ctrl+C again to quit at once]\n")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
