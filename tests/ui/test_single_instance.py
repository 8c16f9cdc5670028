"""One Roundtable per data folder: later launches, and `roundtable overlay`, talk to the running one."""

import json
import subprocess

import pytest

from app.core.instance import send_command
from app.core.settings import Paths
from tests.conftest import REPO, cli_command, run_cli, wait_for

pytestmark = pytest.mark.gui


def status(paths: Paths) -> dict:
    return json.loads(send_command(paths, "status") or "null")


def launch(*args: str) -> subprocess.Popen:
    return subprocess.Popen(cli_command(*args), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def quit_instance(paths: Paths, app: subprocess.Popen) -> None:
    assert send_command(paths, "quit") == "ok"
    output, _ = app.communicate(timeout=30)
    assert app.returncode == 0, output
    assert send_command(paths, "status") is None  # nobody listens any more


def test_a_second_launch_hands_its_command_to_the_running_one(home) -> None:
    paths = Paths.from_environment()
    assert send_command(paths, "status") is None
    app = launch()
    try:
        first = wait_for(lambda: send_command(paths, "status"))
        assert json.loads(first)["window"] is True and json.loads(first)["overlay"] is False

        shown = run_cli("overlay", timeout=30)
        assert shown.returncode == 0, shown.stderr
        assert status(paths)["overlay"] is True
        hidden = run_cli("overlay", timeout=30)
        assert hidden.returncode == 0 and status(paths)["overlay"] is False

        second = run_cli(timeout=30)
        assert second.returncode == 0 and "already running" in second.stdout
        assert status(paths)["pid"] == app.pid
        assert send_command(paths, "dance") == "unknown command 'dance'"
    finally:
        quit_instance(paths, app)


def test_the_overlay_command_starts_roundtable_in_the_background_when_none_runs(home) -> None:
    paths = Paths.from_environment()
    app = launch("overlay")
    try:
        wait_for(lambda: send_command(paths, "status"))
        state = status(paths)
        assert state["overlay"] is True and state["window"] is False
    finally:
        quit_instance(paths, app)


def test_a_socket_left_by_a_crashed_instance_is_taken_over(home) -> None:
    import socket

    paths = Paths.from_environment()
    from app.core.instance import instance_address

    leftover = socket.socket(socket.AF_UNIX)
    leftover.bind(instance_address(paths))  # bound, never listening: what a kill -9 leaves behind
    leftover.close()
    assert send_command(paths, "status") is None
    app = launch()
    try:
        assert json.loads(wait_for(lambda: send_command(paths, "status")))["window"] is True
    finally:
        quit_instance(paths, app)
