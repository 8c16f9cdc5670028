"""Run the real CLI and measure its own peak memory; dump the database to prove an input left it as it was.

`python -m tests.corpus.own_peak_rss REPORT ARGS...` runs `roundtable ARGS` and writes its own peak RSS to REPORT.
The child's `ru_maxrss` (os.wait4) cannot be used: Linux carries the parent's high-water mark over fork and exec,
so a child of a big pytest process reports the parent's peak. VmHWM belongs to the memory of this process alone,
which exec made fresh.
"""

from __future__ import annotations

import os
import re
import runpy
import sqlite3
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any, NamedTuple

REPO = Path(__file__).resolve().parents[2]


class CliRun(NamedTuple):
    """What one `roundtable` run did: exit code, output, and its own peak resident memory in bytes."""

    returncode: int
    stdout: str
    stderr: str
    peak_rss: int


def cli_with_peak_rss(*args: str, timeout: float = 300) -> CliRun:
    """Run `roundtable ARGS` in a fresh process with the test's environment and measure its own peak RSS."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "peak-rss"
        process = subprocess.run(
            [sys.executable, "-m", "tests.corpus.own_peak_rss", str(report), *args],
            capture_output=True,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            text=True,
            timeout=timeout,
        )
        return CliRun(process.returncode, process.stdout, process.stderr, int(report.read_text()))


def db_dump() -> str:
    """The whole database of the test's ROUNDTABLE_HOME as SQL text."""
    from app.core.paths import Paths

    with sqlite3.connect(Paths.from_environment().database) as connection:
        return "\n".join(connection.iterdump())


def stream_with_peak(provider: Any, question: str = "What is a bond?") -> tuple[list[Any], int]:
    """Every event a provider streams for one question, and the Python heap's peak (tracemalloc) meanwhile."""
    from app.core.providers.base import CancelToken, ChatMessage, ChatRequest

    request = ChatRequest([ChatMessage("user", question)])
    tracemalloc.start()
    try:
        events = list(provider.stream(request, CancelToken()))
        return events, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def peak_rss_bytes() -> int:
    """This process's own peak resident memory (Linux)."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE).group(1)) * 1024


if __name__ == "__main__":
    report = Path(sys.argv[1])
    sys.argv = ["roundtable", *sys.argv[2:]]
    try:
        runpy.run_module("app", run_name="__main__", alter_sys=True)
    finally:
        report.write_text(str(peak_rss_bytes()))
