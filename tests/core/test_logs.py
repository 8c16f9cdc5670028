"""The log file in the data folder: unexpected errors land there with their traceback; the terminal gets one line."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.errors import ExitCode
from app.core.logs import LOG_FILENAME, configure_logging
from app.core.paths import Paths
from tests.conftest import REPO

# the real `main`, with one command broken the way a bug would break it
_BROKEN_CLI = """
import sys
import app.cli
from app.cli import copilots

def broken(args, ctx):
    raise RuntimeError("the roster went\\nsideways")

copilots.cmd_show = broken
sys.exit(app.cli.main(["copilots", "show", "generalist"]))
"""


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Leave the test process's logging as it found it."""
    root, ours = logging.getLogger(), logging.getLogger("app")
    before = (list(root.handlers), list(ours.handlers))
    yield
    for logger, handlers in ((root, before[0]), (ours, before[1])):
        for handler in [h for h in logger.handlers if h not in handlers]:
            logger.removeHandler(handler)
            handler.close()


def test_an_unexpected_cli_error_goes_to_the_log_with_its_traceback(home: Path) -> None:
    result = subprocess.run([sys.executable, "-c", _BROKEN_CLI], capture_output=True, text=True, cwd=REPO, timeout=300)
    log_file = Paths.from_environment().log_dir / LOG_FILENAME
    assert result.returncode == ExitCode.INTERNAL
    lines = result.stderr.splitlines()
    assert lines == [f"roundtable: unexpected error (RuntimeError: the roster went sideways); details in {log_file}"]
    logged = log_file.read_text()
    assert "Unexpected error in the command line" in logged
    assert "Traceback (most recent call last)" in logged and ", in broken\nRuntimeError: the roster went" in logged
    assert (log_file.parent.stat().st_mode & 0o777) == 0o700  # tracebacks may quote the user's words


def test_a_users_problem_is_not_logged_as_a_bug(home: Path) -> None:
    from tests.conftest import run_cli

    result = run_cli("copilots", "show", "nobody")
    assert result.returncode == ExitCode.USAGE and result.stderr.startswith("roundtable: No copilot 'nobody'")
    log_file = Paths.from_environment().log_dir / LOG_FILENAME
    assert not log_file.exists() or "Unexpected error" not in log_file.read_text()


def test_our_warnings_reach_the_file_and_still_the_terminal(
    home: Path, root_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = Paths.from_environment()
    target = configure_logging(paths)
    assert configure_logging(paths) == target  # configured once: a second call adds nothing
    logging.getLogger("app.core.crew.runs").warning("Copilot 'broken' is damaged, left out of the run.")
    assert capsys.readouterr().err == "Copilot 'broken' is damaged, left out of the run.\n"
    assert "WARNING app.core.crew.runs" in target.read_text()
    files = [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    assert [h.baseFilename for h in files].count(str(target)) == 1
